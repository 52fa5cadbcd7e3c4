"""The proxy's upstream calls: what counts as one attempt."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream import UpstreamClient
from tests.support.scripted import Scripted, head_of

pytestmark = pytest.mark.integration


async def test_a_small_answer_that_breaks_off_mid_body_is_a_failed_attempt() -> None:
    async def breaks_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await writer.drain()

    client = UpstreamClient()
    async with Scripted(breaks_off) as origin:
        result = await client.request(f"http://127.0.0.1:{origin.port}", "GET", "/x", [], None, 2.0)
    await client.close()

    assert result == "error"  # retried elsewhere when idempotent, never relayed half


async def test_a_small_answer_arrives_whole_within_the_attempt() -> None:
    async def whole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"abc")
        await writer.drain()

    client = UpstreamClient()
    async with Scripted(whole) as origin:
        result = await client.request(f"http://127.0.0.1:{origin.port}", "GET", "/x", [], None, 2.0)
        assert not isinstance(result, str)
        assert await result.read() == b"abc"
        result.release()
    await client.close()
