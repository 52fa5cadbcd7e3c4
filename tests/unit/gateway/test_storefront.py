"""The storefront's files, served by the real gateway app (in process, without Redis)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = create_app(GatewaySettings.from_environ({"LOG_LEVEL": "WARNING"}))
    with TestClient(app) as test_client:
        yield test_client


def asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/storefront/[^"]+)"', page)


def test_the_page_is_served_at_the_root_revalidated_and_locked_down(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<main id="main"' in response.text


def test_the_assets_the_page_names_are_cached_for_a_year_under_their_content_hash(
    client: TestClient[Litestar],
) -> None:
    urls = asset_urls(client.get("/").text)
    assert sorted(url.split("?")[0] for url in urls) == [
        "/storefront/app.css",
        "/storefront/app.js",
    ]
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get(urls[0]).headers["content-type"].split(";")[0] in {
        "text/css",
        "text/javascript",
    }


def test_an_asset_asked_for_without_its_current_hash_is_revalidated(
    client: TestClient[Litestar],
) -> None:
    for url in ("/storefront/app.js", "/storefront/app.js?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["content-type"].startswith("text/javascript")


def test_a_matching_etag_answers_304_without_a_body(client: TestClient[Litestar]) -> None:
    first = client.get("/")
    again = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    changed = client.get("/", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_an_unknown_storefront_file_is_a_problem_404(client: TestClient[Litestar]) -> None:
    for path in ("/storefront/nope.js", "/storefront/index.html", "/storefront/__init__.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_the_api_prefixes_still_go_to_the_proxy(client: TestClient[Litestar]) -> None:
    # No registry and no fallback URL here: the proxy answers that products is unavailable.
    response = client.get("/products")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/orders").status_code == 401  # the proxy's authentication
