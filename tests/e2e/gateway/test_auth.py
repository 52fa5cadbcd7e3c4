from __future__ import annotations

import socket

import httpx
import pytest

from devtools.served import Served
from tests.e2e.gateway.harness import Stack, instances_seen
from tests.support.polling import eventually
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(stack: Stack) -> Served:
    upstreams = [
        stack.upstream("users", "u0"),
        stack.upstream("products", "p0"),
        stack.upstream("orders", "o0"),
    ]
    served = stack.gateway()
    stack.ready(*upstreams, served)
    eventually(lambda: instances_seen(served, "/orders/health", 2) == {"o0"})
    eventually(lambda: instances_seen(served, "/users/health", 2) == {"u0"})
    return served


def _call(gateway: Served, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, f"{gateway.url}{path}", headers=headers, timeout=5)


def test_missing_expired_and_forged_tokens_are_refused_with_401(
    gateway: Served, tokens: TokenFactory
) -> None:
    bad = {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": tokens.expired(),
        "forged": tokens.forged(),
        "alg none": tokens.unsigned(),
        "hmac with the public key": tokens.hmac_with_public_key(),
        "other audience": tokens.token(aud="elsewhere"),
    }
    for name, token in bad.items():
        response = _call(gateway, "GET", "/orders/mine", token)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
        assert response.headers["content-type"] == "application/problem+json", name


def test_a_customer_may_read_but_not_administer(gateway: Served, tokens: TokenFactory) -> None:
    customer = tokens.token("alice", "customer")
    admin = tokens.token("root", "admin")

    assert _call(gateway, "GET", "/products", None).status_code == 200
    assert _call(gateway, "GET", "/orders/o-1", customer).status_code == 200
    assert _call(gateway, "POST", "/products", customer).status_code == 403
    assert _call(gateway, "DELETE", "/products/p-1", customer).status_code == 403
    assert _call(gateway, "POST", "/products", admin).status_code == 200
    assert _call(gateway, "GET", "/registry", None).status_code == 401
    assert _call(gateway, "GET", "/registry", customer).status_code == 403
    assert _call(gateway, "GET", "/registry", admin).status_code == 200
    assert _call(gateway, "POST", "/users", None).status_code == 200  # registration is open


def test_unknown_paths_are_404_and_ambiguous_ones_400_without_an_upstream_call(
    gateway: Served, tokens: TokenFactory
) -> None:
    admin = tokens.token("root", "admin")
    for path in ("/internal/reservations", "/outbox/flush", "/nowhere", "/productsx"):
        assert _call(gateway, "POST", path, admin).status_code == 404, path
    for raw in (
        "/products/../internal/reservations",
        "/products/%2e%2e/internal",
        "/products/a%2fb",
    ):
        assert _raw_status(gateway.port, raw) == 400, raw  # not canonical: refused


def test_the_original_authorization_is_forwarded_and_no_identity_header_is(
    gateway: Served, tokens: TokenFactory
) -> None:
    token = tokens.token("alice", "customer")
    response = httpx.get(
        f"{gateway.url}/users/me",
        headers={"Authorization": f"Bearer {token}", "X-User-Id": "mallory"},
        timeout=5,
    )
    seen = dict(response.json()["headers"])
    anonymous = dict(
        httpx.get(f"{gateway.url}/products", headers={"X-User-Role": "admin"}, timeout=5).json()[
            "headers"
        ]
    )

    assert response.status_code == 200
    assert seen["authorization"] == f"Bearer {token}"  # the function verifies it itself
    assert "x-user-id" not in seen  # neither the gateway's nor the client's
    assert "x-user-role" not in seen
    assert "x-user-role" not in anonymous  # a client never sets its own identity


def _raw_status(port: int, path: str) -> int:
    """Send `path` byte for byte: HTTP clients would normalise the dot segments away."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(1024).decode("latin-1")
    return int(head.split(" ", 2)[1])
