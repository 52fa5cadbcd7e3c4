"""HSTS on the gateway's answers: only over HTTPS as the trusted hop reports it, and configurable.
The real gateway app sits behind uvicorn's own proxy-header middleware, as `shop-serve` runs it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.app import create_app
from gateway.settings import GatewaySettings

QUEUE_PROXY = ("127.0.0.1", 40000)  # the trusted hop in a Knative pod
STRANGER = ("10.1.2.3", 40000)


async def get_root(
    client: tuple[str, int], headers: dict[str, str], environ: dict[str, str] | None = None
) -> httpx.Response:
    app = create_app(GatewaySettings.from_environ({"LOG_LEVEL": "WARNING", **(environ or {})}))
    asgi: Any = app  # uvicorn's and httpx's ASGI types differ from Litestar's; the shape is one
    front: Any = ProxyHeadersMiddleware(asgi, trusted_hosts="127.0.0.1")  # uvicorn's default
    transport = httpx.ASGITransport(app=front, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        return await http.get("/", headers=headers)


async def test_an_answer_to_a_request_that_came_over_https_carries_hsts() -> None:
    response = await get_root(QUEUE_PROXY, {"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("client", "headers"),
    [
        (QUEUE_PROXY, {}),
        (QUEUE_PROXY, {"X-Forwarded-Proto": "http"}),
        (STRANGER, {"X-Forwarded-Proto": "https"}),
    ],
    ids=["plain-http", "forwarded-http", "untrusted-hop-claims-https"],
)
async def test_an_answer_over_plain_http_or_from_an_untrusted_hop_has_none(
    client: tuple[str, int], headers: dict[str, str]
) -> None:
    response = await get_root(client, headers)
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_the_max_age_is_configurable_and_zero_turns_hsts_off() -> None:
    https = {"X-Forwarded-Proto": "https"}
    shorter = await get_root(QUEUE_PROXY, https, {"GATEWAY_HSTS_MAX_AGE_SECONDS": "600"})
    assert shorter.headers["strict-transport-security"] == "max-age=600"
    off = await get_root(QUEUE_PROXY, https, {"GATEWAY_HSTS_MAX_AGE_SECONDS": "0"})
    assert "strict-transport-security" not in off.headers
