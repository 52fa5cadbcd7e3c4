from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from tests.e2e.gateway.harness import Stack, instances_seen
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
LIMIT = 16 * 1024 * 1024


# A routing table of the test's own (GATEWAY_ROUTES_FILE): every method public, no limit.
ROUTES = {
    "services": {"products": {"timeout_seconds": 5}},
    "routes": [
        {"prefix": "/products", "service": "products", "auth": "public", "rate_limit": "none"}
    ],
}


@pytest.fixture
def gateway(stack: Stack, tmp_path: Path) -> Served:
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps(ROUTES))
    upstream = stack.upstream("products", "p0")
    served = stack.gateway(
        MAX_BODY_BYTES=str(LIMIT),
        CORS_ORIGINS="https://shop.example",
        GATEWAY_ROUTES_FILE=str(routes),
    )
    stack.ready(upstream, served)
    eventually(lambda: instances_seen(served, "/products/health", 1) == {"p0"})
    return served


def test_hop_by_hop_headers_are_stripped_both_ways(gateway: Served) -> None:
    response = httpx.get(
        f"{gateway.url}/products/hop",
        headers={
            "Connection": "keep-alive, X-Client-Hop",
            "X-Client-Hop": "secret",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic abc",
            "X-End-To-End": "kept",
        },
        timeout=5,
    )
    echoed = httpx.get(
        f"{gateway.url}/products/echo",
        headers={"Connection": "X-Client-Hop", "X-Client-Hop": "1", "Proxy-Authorization": "x"},
        timeout=5,
    )
    seen = {name for name, _ in echoed.json()["headers"]}

    assert response.status_code == 200
    assert "x-upstream-hop" not in response.headers
    assert "proxy-authenticate" not in response.headers
    assert "keep-alive" not in response.headers
    assert response.headers["x-end-to-end"] == "kept"
    assert not seen & {"x-client-hop", "proxy-authorization", "te", "keep-alive"}


def test_forwarding_headers_request_id_and_trace_context_reach_the_upstream(
    gateway: Served,
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = httpx.get(
        f"{gateway.url}/products/echo?q=1",
        headers={"X-Request-ID": "req-42", "traceparent": parent, "X-User-Id": "mallory"},
        timeout=5,
    )
    seen = dict(response.json()["headers"])
    generated = httpx.get(f"{gateway.url}/products/echo", timeout=5)

    assert response.headers["x-request-id"] == "req-42"
    assert seen["x-request-id"] == "req-42"
    assert seen["traceparent"] == parent
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert "x-user-id" not in seen
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == f"127.0.0.1:{gateway.port}"
    assert response.json()["query"] == "q=1"
    rid = generated.headers["x-request-id"]
    assert dict(generated.json()["headers"])["x-request-id"] == rid
    assert response.headers.get_list("x-request-id") == ["req-42"]


def test_large_bodies_stream_through_both_ways(gateway: Served) -> None:
    size = 12 * 1024 * 1024
    block = bytes(range(256)) * 256

    def chunks() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    upload = httpx.post(f"{gateway.url}/products/upload", content=chunks(), timeout=30)
    with httpx.stream("GET", f"{gateway.url}/products/big?size={size}", timeout=30) as download:
        received = sum(len(chunk) for chunk in download.iter_raw())

    assert upload.status_code == 200, upload.text
    assert upload.json()["length"] == size
    expected = hashlib.sha256(block * (size // len(block))).hexdigest()
    assert upload.json()["sha256"] == expected
    assert download.status_code == 200
    assert received == size


def test_bodies_over_the_limit_are_refused_with_413(gateway: Served) -> None:
    declared = _raw_post(gateway.port, f"Content-Length: {LIMIT + 1}\r\n", b"")

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 65_536 + 2):
            yield b"x" * 65_536

    streamed = httpx.post(f"{gateway.url}/products/upload", content=chunks(), timeout=30)

    assert declared == 413
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"


def test_cors_preflight_is_answered_for_configured_origins(gateway: Served) -> None:
    response = httpx.options(
        f"{gateway.url}/products",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    simple = httpx.get(f"{gateway.url}/products", headers={"Origin": "https://shop.example"})

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert simple.headers["access-control-allow-origin"] == "https://shop.example"


def _cors(gateway: Served, method: str, path: str, origin: str) -> tuple[int, dict[str, str]]:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    response = httpx.request(method, f"{gateway.url}{path}", headers=headers, timeout=5)
    found = {k: v for k, v in response.headers.items() if k.startswith("access-control-")}
    return (response.status_code if method == "OPTIONS" else 0), found


def test_proxied_and_routed_paths_answer_cors_alike(gateway: Served) -> None:
    # The proxied path (straight to the proxy) and a Litestar-routed one (/registry) share
    # Litestar's CORS middleware: a change in Litestar shows here as a difference.
    for origin in ("https://shop.example", "https://evil.example"):
        for method in ("OPTIONS", "GET"):
            proxied = _cors(gateway, method, "/products", origin)
            routed = _cors(gateway, method, "/registry", origin)
            assert proxied == routed, (origin, method)
    assert _cors(gateway, "OPTIONS", "/products", "https://evil.example")[0] == 400


def _raw_post(port: int, headers: str, body: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"POST /products/upload HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
        sock.sendall(request.encode() + body)
        head = sock.recv(1024).decode("latin-1")
    return int(head.split(" ", 2)[1])
