from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from redis.asyncio import Redis

from shop.http.clients import ClientSettings, ServiceClients
from shop.registry.store import Instance, Registry
from shop.registry.view import RegistryView
from shop.runtime.errors import Unavailable
from tests.support.inprocess import serving
from tests.support.services import free_port

pytestmark = pytest.mark.integration
Make = Callable[[ClientSettings, RegistryView | None], ServiceClients]


def echo_app(name: str, *, status: int = 200) -> Litestar:
    calls: list[str] = []

    @get("/who", sync_to_thread=False)
    def who(request: Request[Any, Any, Any]) -> dict[str, str]:
        calls.append("who")
        return {"name": name, "request_id": request.headers.get("x-request-id", "")}

    @post("/charge", status_code=status, sync_to_thread=False)
    def charge() -> dict[str, str]:
        calls.append("charge")
        return {"name": name}

    app = Litestar([who, charge])
    app.state["calls"] = calls
    return app


@pytest.fixture
async def opened() -> AsyncIterator[list[ServiceClients]]:
    """Clients a test opens, closed after it."""
    made: list[ServiceClients] = []
    yield made
    for clients in made:
        await clients.close()


@pytest.fixture
def make(opened: list[ServiceClients]) -> Make:
    def build(settings: ClientSettings, view: RegistryView | None = None) -> ServiceClients:
        clients = ServiceClients(settings, view)
        opened.append(clients)
        return clients

    return build


async def register(
    redis: Redis, service: str, instance_id: str, address: str, healthy: bool = True
) -> None:
    await Registry(redis).register(
        Instance(instance_id=instance_id, service=service, address=address, healthy=healthy)
    )


async def test_calls_go_to_healthy_registered_instances_in_turn(redis: Redis, make: Make) -> None:
    async with serving(echo_app("one")) as one, serving(echo_app("two")) as two:
        await register(redis, "products", "one", one)
        await register(redis, "products", "two", two)
        await register(redis, "products", "sick", f"http://127.0.0.1:{free_port()}", healthy=False)
        view = RegistryView(Registry(redis))
        await view.refresh_now()
        clients = make(ClientSettings(), view)
        names = [
            (await clients.request("products", "GET", "/who")).json()["name"] for _ in range(4)
        ]
    assert sorted(names) == ["one", "one", "two", "two"]


async def test_the_fallback_url_serves_when_the_registry_knows_no_instance(
    make: Make,
) -> None:
    async with serving(echo_app("fallback")) as url:
        clients = make(ClientSettings(fallbacks={"users": url}), None)
        response = await clients.request("users", "GET", "/who")
    assert response.json()["name"] == "fallback"


async def test_a_refused_connection_is_retried_on_the_next_instance_even_for_a_post(
    redis: Redis, make: Make
) -> None:
    async with serving(echo_app("alive")) as alive:
        await register(redis, "orders", "dead", f"http://127.0.0.1:{free_port()}")
        await register(redis, "orders", "alive", alive)
        view = RegistryView(Registry(redis))
        await view.refresh_now()
        clients = make(ClientSettings(), view)
        for _ in range(3):
            response = await clients.request("orders", "POST", "/charge")
            assert response.json()["name"] == "alive"


async def test_a_sent_non_idempotent_call_is_never_repeated(make: Make) -> None:
    app = echo_app("busy", status=503)
    async with serving(app) as url:
        clients = make(ClientSettings(fallbacks={"orders": url}), None)
        response = await clients.request("orders", "POST", "/charge")
        assert response.status_code == 503
        assert app.state["calls"] == ["charge"]
        await clients.request("orders", "POST", "/charge", idempotent=True)
        assert app.state["calls"].count("charge") == 1 + 3  # first try and two retries


async def test_no_instance_and_no_fallback_is_unavailable(make: Make) -> None:
    clients = make(ClientSettings(), None)
    with pytest.raises(Unavailable):
        await clients.request("products", "GET", "/who")
    dead = make(ClientSettings(fallbacks={"products": f"http://127.0.0.1:{free_port()}"}), None)
    with pytest.raises(Unavailable):
        await dead.request("products", "GET", "/who")


async def test_the_request_id_travels_with_the_call(make: Make) -> None:
    from shop.runtime.logs import request_id

    async with serving(echo_app("x")) as url:
        clients = make(ClientSettings(fallbacks={"users": url}), None)
        token = request_id.set("req-42")
        try:
            response = await clients.request("users", "GET", "/who")
        finally:
            request_id.reset(token)
    assert response.json()["request_id"] == "req-42"


def test_fallback_urls_and_timeouts_come_from_the_environment() -> None:
    settings = ClientSettings.from_environ(
        {
            "PRODUCTS_URL": "http://products.shop.svc.cluster.local/",
            "SERVICE_TIMEOUT_SECONDS": "1.5",
        }
    )
    assert settings.fallbacks == {"products": "http://products.shop.svc.cluster.local"}
    assert settings.timeout == 1.5
