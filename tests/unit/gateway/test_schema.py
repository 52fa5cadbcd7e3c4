"""The gateway's one OpenAPI document of the public API and its offline viewer, served by the
real gateway app (in process, without Redis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings

# The public routes of docs/api.md, by the function that serves them.
CONTRACT = {
    "users": {
        ("post", "/users"),
        ("post", "/auth/token"),
        ("get", "/users/me"),
        ("get", "/users/{user_id}"),
        ("get", "/.well-known/jwks.json"),
    },
    "products": {
        ("get", "/products"),
        ("get", "/products/{product_id}"),
        ("post", "/products"),
        ("patch", "/products/{product_id}"),
        ("delete", "/products/{product_id}"),
    },
    "orders": {
        ("post", "/orders"),
        ("get", "/orders"),
        ("get", "/orders/{order_id}"),
        ("post", "/orders/{order_id}/cancel"),
    },
    "notifications": {("get", "/notifications")},
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = create_app(GatewaySettings.from_environ({"LOG_LEVEL": "WARNING"}))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def document(client: TestClient[Litestar]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    parsed: dict[str, Any] = json.loads(response.content)
    return parsed


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in {"src", "href", "action", "srcset", "data", "poster"} and value:
                self.urls.append(value)


def operations(document: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found.setdefault(operation["tags"][0], set()).add((method, path))
    return found


def test_the_document_is_openapi_3_1_with_every_public_route_of_the_four_functions(
    document: dict[str, Any],
) -> None:
    assert document["openapi"].startswith("3.1.")
    served = operations(document)
    for function, routes in CONTRACT.items():
        assert served[function] == routes, function
    assert ("get", "/registry") in served["operations"]
    assert {("get", f"/{name}/health") for name in CONTRACT} <= served["operations"]


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    seen = list(refs(document))
    assert seen
    for ref in seen:
        target: Any = document
        for key in ref.removeprefix("#/").split("/"):
            target = target[key]
        assert isinstance(target, dict), ref


def test_the_viewer_page_loads_nothing_from_another_host_and_runs_no_script(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "http" not in policy
    links = Links()
    links.feed(response.text)
    assert "script" not in links.tags
    assert "/schema/openapi.css" in links.urls
    for url in links.urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
    for url in {u.split("#")[0] for u in links.urls} - {""}:
        assert client.get(url).status_code == 200, url


def test_the_viewer_shows_every_operation_of_the_document(
    client: TestClient[Litestar], document: dict[str, Any]
) -> None:
    page = client.get("/schema").text
    for item in document["paths"].values():
        for operation in item.values():
            assert f'id="op-{operation["operationId"]}"' in page


def test_litestars_own_viewers_that_load_from_a_cdn_are_gone(
    client: TestClient[Litestar],
) -> None:
    for path in ("/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/openapi.yaml"):
        assert client.get(path).status_code == 404, path
