from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import FromPath, JSONBody
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shop.runtime.core import Runtime
from shop.runtime.errors import Conflict, FieldError, InvalidInput, TooManyRequests, Unauthenticated
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings


class Order(msgspec.Struct, forbid_unknown_fields=True):
    product_id: str
    quantity: int


class Address(msgspec.Struct, forbid_unknown_fields=True):
    city: Annotated[str, msgspec.Meta(min_length=2)]
    zip: Annotated[str, msgspec.Meta(pattern="^[0-9]{5}$")]


class Signup(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(pattern="^[a-z0-9_.-]{3,32}$")]
    email: Annotated[str, msgspec.Meta(pattern="^[^@]+@[^@]+$")]
    password: Annotated[str, msgspec.Meta(min_length=12)]
    age: int = 0
    address: Address | None = None


@get("/orders/{order_id:str}")
async def get_order(order_id: FromPath[str]) -> dict[str, str]:
    if order_id == "taken":
        raise Conflict("order already cancelled")
    if order_id == "bad":
        raise InvalidInput("bad order", [FieldError("quantity", "must be 1-100")])
    if order_id == "anon":
        raise Unauthenticated("missing bearer token")
    if order_id == "busy":
        raise TooManyRequests("slow down", retry_after=7)
    if order_id == "boom":
        raise RuntimeError("secret internals")
    return {"id": order_id}


@post("/orders")
async def place(data: JSONBody[Order]) -> dict[str, int]:
    return {"quantity": data.quantity}


@post("/signups")
async def sign_up(data: JSONBody[Signup]) -> dict[str, str]:
    return {"username": data.username}


SETTINGS = Settings.from_environ("orders", {"INSTANCE_ID": "orders-1", "MAX_BODY_BYTES": "2048"})


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    app = create_service_app(SETTINGS, route_handlers=[get_order, place, sign_up])
    with TestClient(app) as test_client:
        yield test_client


def test_health_reports_the_service_and_instance(client: TestClient[Litestar]) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "orders"
    assert body["instance_id"] == "orders-1"
    assert body["timestamp"].endswith("Z")


def test_health_is_503_with_the_error_when_a_check_fails() -> None:
    async def broken() -> None:
        raise OSError("disk full")

    async def add_check(runtime: Runtime) -> None:
        runtime.health.add_check("disk", broken)

    app = create_service_app(SETTINGS, startup=[add_check])
    with TestClient(app) as client:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unhealthy",
            "error": "health check 'disk' failed: disk full",
        }
        assert client.get("/ready").json() == {"status": "not ready"}


def test_ready_is_200_once_started_and_503_once_draining(client: TestClient[Litestar]) -> None:
    assert client.get("/ready").json() == {"status": "ready"}
    runtime_of(client.app).health.begin_shutdown()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready"}


def test_every_response_carries_a_request_id(client: TestClient[Litestar]) -> None:
    generated = client.get("/orders/1").headers["x-request-id"]
    assert len(generated) == 32
    echoed = client.get("/orders/1", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
    assert echoed == "abc-123"
    unsafe = client.get("/orders/1", headers={"X-Request-ID": "a b\tc"}).headers["x-request-id"]
    assert unsafe != "a b\tc"


@pytest.mark.parametrize(
    ("path", "status", "header"),
    [
        ("/orders/taken", 409, None),
        ("/orders/bad", 422, None),
        ("/orders/anon", 401, ("www-authenticate", "Bearer")),
        ("/orders/busy", 429, ("retry-after", "7")),
        ("/nowhere", 404, None),
    ],
)
def test_errors_are_problem_json(
    client: TestClient[Litestar],
    path: str,
    status: int,
    header: tuple[str, str] | None,
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if header is not None:
        assert response.headers[header[0]] == header[1]


def test_a_domain_validation_error_lists_its_fields(client: TestClient[Litestar]) -> None:
    body = client.get("/orders/bad").json()
    assert body["errors"] == [{"field": "quantity", "message": "must be 1-100"}]


def test_an_unexpected_error_is_a_500_problem_without_internals(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/orders/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b'{"product_id": 1, "quantity": 2}', 422, "product_id"),
        (b'{"product_id": "p", "quantity": 2, "extra": true}', 422, "extra"),
        (b'{"product_id": "p"}', 422, "quantity"),
    ],
)
def test_bad_bodies_are_4xx_problems_naming_the_field(
    client: TestClient[Litestar],
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    response = client.post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert [e["field"] for e in response.json()["errors"]] == [field]


def post_signup(client: TestClient[Litestar], body: dict[str, Any]) -> list[dict[str, str]]:
    response = client.post("/signups", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, str]] = response.json()["errors"]
    assert all(set(e) == {"field", "message"} and e["message"] for e in errors)
    return errors


def test_a_422_lists_every_invalid_field_not_only_the_first(
    client: TestClient[Litestar],
) -> None:
    errors = post_signup(client, {"username": "A", "email": "nope", "password": "short"})
    assert [e["field"] for e in errors] == ["username", "email", "password"]
    assert "length >= 12" in errors[2]["message"]


def test_a_422_lists_missing_unknown_wrongly_typed_and_nested_fields_together(
    client: TestClient[Litestar],
) -> None:
    body = {"username": "ann", "age": "old", "address": {"city": "X"}, "colour": "red"}
    fields = [e["field"] for e in post_signup(client, body)]
    assert fields == ["email", "password", "age", "address.city", "address.zip", "colour"]


def test_a_valid_body_still_passes_and_a_body_that_is_not_an_object_is_one_error(
    client: TestClient[Litestar],
) -> None:
    ok = {"username": "ann", "email": "a@b", "password": "x" * 12, "address": None}
    assert client.post("/signups", json=ok).json() == {"username": "ann"}
    assert [e["field"] for e in post_signup(client, [1, 2])] == ["body"]  # type: ignore[arg-type]


def test_an_oversized_body_is_413(client: TestClient[Litestar]) -> None:
    response = client.post(
        "/orders", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_metrics_use_route_templates_methods_and_status_classes(
    client: TestClient[Litestar],
) -> None:
    client.get("/orders/1")
    client.get("/orders/2")
    client.get("/orders/taken")
    client.get("/no/such/path/123")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {
        "http_requests",
        "http_errors",
        "http_request_duration_seconds",
        "active_connections",
    } <= families.keys()
    requests = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert requests[("/orders/{order_id}", "GET", "2xx")] == 2
    assert requests[("/orders/{order_id}", "GET", "4xx")] == 1
    assert requests[("unmatched", "GET", "4xx")] == 1
    assert not any(route == "/orders/1" for route, _, _ in requests)
    errors = {
        s.labels["route"]: s.value
        for s in families["http_errors"].samples
        if s.name == "http_errors_total"
    }
    assert errors["/orders/{order_id}"] == 1
    histogram = [
        s for s in families["http_request_duration_seconds"].samples if s.name.endswith("_count")
    ]
    assert all(s.labels["service"] == "orders" for s in histogram)
