from __future__ import annotations

from gateway.forwarding import RequestHead, request_headers, response_headers


def _forward(headers: list[tuple[bytes, bytes]], **options: object) -> dict[str, str]:
    arguments: dict[str, object] = {
        "peer": "10.0.0.7",
        "scheme": "https",
        "request_id": "rid-1",
    }
    arguments.update(options)
    sent = request_headers(headers, **arguments)  # type: ignore[arg-type]
    return {name.decode(): value.decode() for name, value in sent}


def test_hop_by_hop_and_connection_listed_headers_are_dropped_on_the_way_up() -> None:
    sent = _forward(
        [
            (b"connection", b"keep-alive, x-private"),
            (b"x-private", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"te", b"trailers"),
            (b"transfer-encoding", b"chunked"),
            (b"upgrade", b"websocket"),
            (b"proxy-authorization", b"Basic x"),
            (b"authorization", b"Bearer t"),
            (b"content-type", b"application/json"),
        ]
    )

    assert set(sent) == {
        "authorization",
        "content-type",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-request-id",
    }


def test_forwarding_headers_are_set_and_the_clients_own_claim_dropped() -> None:
    sent = _forward([(b"host", b"shop.example"), (b"x-forwarded-for", b"1.2.3.4")])

    assert sent["x-forwarded-for"] == "10.0.0.7"  # the client the server derived, alone
    assert sent["x-forwarded-proto"] == "https"
    assert sent["x-forwarded-host"] == "shop.example"
    assert sent["x-request-id"] == "rid-1"
    assert "host" not in sent


def test_the_upstream_chain_is_the_derived_client_only() -> None:
    sent = _forward([(b"x-forwarded-for", b"1.2.3.4, 10.0.0.7"), (b"x-forwarded-host", b"a.b")])

    assert sent["x-forwarded-for"] == "10.0.0.7"
    assert sent["x-forwarded-host"] == "a.b"


def test_a_clients_identity_headers_never_reach_a_function() -> None:
    spoofed = [
        (b"authorization", b"Bearer t"),
        (b"x-user-id", b"mallory"),
        (b"x-user-role", b"admin"),
        (b"x-request-id", b"evil"),
    ]

    sent = _forward(spoofed)

    assert "x-user-id" not in sent
    assert "x-user-role" not in sent
    assert sent["x-request-id"] == "rid-1"
    assert sent["authorization"] == "Bearer t"  # the functions verify the token themselves


def test_hop_by_hop_headers_are_dropped_on_the_way_down() -> None:
    kept = response_headers(
        [
            (b"Connection", b"X-Hop"),
            (b"X-Hop", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Proxy-Authenticate", b"Basic"),
            (b"Date", b"yesterday"),
            (b"Server", b"uvicorn"),
            (b"Content-Type", b"application/json"),
            (b"Set-Cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
        ]
    )

    assert kept == [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]


def test_the_request_head_is_read_in_one_pass() -> None:
    head = RequestHead(
        [
            (b"authorization", b"Bearer x"),
            (b"content-length", b"12"),
            (b"idempotency-key", b"k"),
        ]
    )
    chunked = RequestHead([(b"transfer-encoding", b"chunked"), (b"content-length", b"x1")])

    assert (head.authorization, head.length, head.idempotency_key) == ("Bearer x", 12, True)
    assert not head.chunked
    assert chunked.chunked
    assert chunked.length == -1
