"""Clients of a served users function, each from its own loopback address (the function takes
the connecting peer as the client: no X-Forwarded-For is sent, none would be trusted)."""

from __future__ import annotations

import httpx

PASSWORD = "Tr0ub4dor & 3 horses"


def client(url: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=30)


def async_client(url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=30)


def sign_up(http: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    return http.post("/users", json=body)


def log_in(http: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return http.post("/auth/token", json={"username": username, "password": password})
