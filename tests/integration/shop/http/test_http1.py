"""The proxy's HTTP/1.1 client against real sockets: origins that answer exactly as scripted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shop.http import http1, origins
from tests.support.scripted import OK, Scripted, answering, head_of
from tests.support.services import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def ok_origin() -> AsyncIterator[tuple[Scripted, origins.Origin]]:
    scripted = Scripted(answering(OK, OK, OK))
    async with scripted as origin:
        yield scripted, origin
    origin.close()


async def get(origin: origins.Origin, seconds: float = 2.0) -> tuple[int, bytes]:
    response = await origins.send(origin, "GET", "/x", [], None, seconds)
    try:
        return response.status, await response.read()
    finally:
        response.release()


async def test_sequential_requests_reuse_one_kept_alive_connection(
    ok_origin: tuple[Scripted, origins.Origin],
) -> None:
    scripted, origin = ok_origin

    answers = [await get(origin) for _ in range(3)]

    assert answers == [(200, b"ok")] * 3
    assert scripted.connections == 1


async def test_the_request_head_carries_host_and_the_given_headers_in_order() -> None:
    log: list[bytes] = []
    async with Scripted(answering(OK, log=log)) as origin:
        response = await origins.send(
            origin, "GET", "/p?q=1", [(b"x-a", b"1"), (b"x-b", b"2")], None, 2.0
        )
        response.release()
        origin.close()

    lines = log[0].split(b"\r\n")
    assert lines[0] == b"GET /p?q=1 HTTP/1.1"
    assert lines[1] == f"host: 127.0.0.1:{origin.port}".encode()
    assert lines[2:4] == [b"x-a: 1", b"x-b: 2"]


async def test_a_chunked_answer_arrives_whole_and_the_connection_is_reused() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    scripted = Scripted(answering(chunked, chunked))
    async with scripted as origin:
        assert await get(origin) == (200, b"abcde")
        assert await get(origin) == (200, b"abcde")
        origin.close()

    assert scripted.connections == 1


async def test_a_large_answer_streams_in_pieces_with_every_byte() -> None:
    size = 3 * 1024 * 1024
    body = bytes(range(256)) * (size // 256)
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size + body
    async with Scripted(answering(answer)) as origin:
        response = await origins.send(origin, "GET", "/big", [], None, 5.0)
        pieces = [chunk async for chunk in response.chunks()]
        response.release()
        origin.close()

    assert b"".join(pieces) == body
    assert len(pieces) > 1


async def test_a_body_ended_by_closing_the_connection_is_read_to_the_end_and_not_reused() -> None:
    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()

    scripted = Scripted(close_delimited)
    async with scripted as origin:
        assert await get(origin) == (200, b"until the end")
        assert await get(origin) == (200, b"until the end")
        origin.close()

    assert scripted.connections == 2


async def test_an_interim_100_continue_is_skipped_for_the_final_answer() -> None:
    async with Scripted(answering(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)) as origin:
        assert await get(origin) == (200, b"ok")
        origin.close()


async def test_a_head_answer_ends_at_its_headers_whatever_its_content_length() -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"
    async with Scripted(answering(answer)) as origin:
        response = await origins.send(origin, "HEAD", "/x", [], None, 2.0)
        assert response.content_length == 1000
        assert await asyncio.wait_for(response.read(), 2) == b""
        response.release()
        origin.close()


async def test_an_origin_that_never_answers_times_out_and_its_connection_is_dropped() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        await asyncio.sleep(5)

    async with Scripted(silent) as origin:
        with pytest.raises(TimeoutError):
            await origins.send(origin, "GET", "/slow", [], None, 0.2)
        assert origin.idle == []


async def test_a_short_wait_on_a_connection_last_used_with_a_long_one_still_times_out() -> None:
    async def once_then_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        writer.write(OK)
        await head_of(reader)
        await asyncio.sleep(30)

    async with Scripted(once_then_silent) as origin:
        assert await get(origin, seconds=60.0) == (200, b"ok")
        async with asyncio.timeout(10):  # the first wait's 60 s must not hold the second's
            with pytest.raises(TimeoutError):
                await origins.send(origin, "GET", "/slow", [], None, 0.2)
        origin.close()


async def test_a_port_nobody_listens_on_is_refused() -> None:
    origin = origins.Origin("http", "127.0.0.1", free_port(), connect_timeout=1.0)

    with pytest.raises(http1.Refused):
        await origins.send(origin, "GET", "/", [], None, 1.0)


async def test_an_answer_that_is_not_http_breaks_the_call() -> None:
    async with Scripted(answering(b"SSH-2.0-OpenSSH\r\n\r\n")) as origin:
        with pytest.raises(http1.Broken):
            await origins.send(origin, "GET", "/", [], None, 2.0)


async def test_a_connection_the_origin_closed_while_idle_is_never_handed_out_again() -> None:
    scripted = Scripted(answering(OK))  # one answer per connection, then it hangs up
    async with scripted as origin:
        assert await get(origin) == (200, b"ok")
        await asyncio.sleep(0.1)  # the origin's FIN arrives while the connection is idle
        assert await get(origin) == (200, b"ok")
        origin.close()

    assert scripted.connections == 2


async def test_an_upload_of_unknown_length_goes_chunked_and_arrives_whole() -> None:
    received: list[bytes] = []

    async def echo_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await head_of(reader)
        assert b"transfer-encoding: chunked" in head
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
        received.append(body)
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()

    async def pieces() -> AsyncIterator[bytes]:
        for n in range(50):
            yield b"%d," % n

    async with Scripted(echo_length) as origin:
        response = await origins.send(origin, "POST", "/up", [], pieces(), 2.0)
        response.release()
        origin.close()

    assert response.status == 201
    assert received == [b"".join(b"%d," % n for n in range(50))]


async def test_a_small_body_goes_with_its_content_length_in_one_write() -> None:
    log: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log.append(await head_of(reader))
        log.append(await reader.readexactly(5))
        writer.write(OK)
        await writer.drain()

    async with Scripted(record) as origin:
        assert (await origins.send(origin, "POST", "/", [], b"hello", 2.0)).status == 200
        origin.close()

    assert b"content-length: 5" in log[0]
    assert log[1] == b"hello"


def test_base_urls_split_into_origin_and_path_prefix() -> None:
    assert origins.split("http://orders.shop.svc.cluster.local") == (
        "http://orders.shop.svc.cluster.local",
        "",
    )
    assert origins.split("http://10.0.0.1:8080/base/") == ("http://10.0.0.1:8080", "/base")
    assert origins.origin_key("http://orders.shop.svc.cluster.local") == (
        "http",
        "orders.shop.svc.cluster.local",
        80,
    )
    assert origins.origin_key("https://[::1]:8443") == ("https", "::1", 8443)


async def test_connections_the_origin_closed_leave_the_pool_as_others_come_back() -> None:
    answered = 0

    async def first_hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        keep = answered > 1
        await answering(OK)(reader, writer)
        if keep:
            await reader.read()  # stays open until the client closes it

    async with Scripted(first_hangs_up) as origin:
        first = await origins.send(origin, "GET", "/", [], None, 2.0)
        second = await origins.send(origin, "GET", "/", [], None, 2.0)
        assert await first.read() == await second.read() == b"ok"
        first.release()
        await asyncio.sleep(0.1)  # the origin hangs up on the idle first connection
        second.release()

        assert origin.idle == [second._connection]
        origin.close()
