"""The events' HTTP poster on the lean client, against real loopback servers."""

from __future__ import annotations

import asyncio

import pytest

from shop.events.poster import Poster
from tests.support.recorder import Recorder, Reply
from tests.support.scripted import OK, Scripted, answering, head_of
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def test_a_post_presents_the_token_for_its_url_and_reads_the_whole_answer() -> None:
    asked: list[str] = []

    def token(url: str) -> str:
        asked.append(url)
        return "t0k3n"

    poster = Poster(token=token)
    with Recorder() as receiver:
        receiver.script = [Reply(202, b"queued", {"retry-after": "3"})]
        url = f"{receiver.url}/default/default"
        answer = await poster.post(url, content=b"{}", headers={"Ce-Id": "1"})
        (request,) = await asyncio.to_thread(receiver.wait_for, "/default/default")
    poster.close()
    assert (answer.status_code, answer.content, answer.is_success) == (202, b"queued", True)
    assert answer.headers["retry-after"] == "3"
    assert request.headers["authorization"] == "Bearer t0k3n"
    assert request.headers["ce-id"] == "1"
    assert request.body == b"{}"
    assert asked == [url]


async def test_posts_to_one_origin_share_a_kept_alive_connection() -> None:
    server = Scripted(answering(OK, OK, OK))
    async with server as origin:
        poster = Poster()
        for _ in range(3):
            answer = await poster.post(f"http://127.0.0.1:{origin.port}/e", content=b"", headers={})
            assert answer.status_code == 200
        poster.close()
    assert server.connections == 1


async def test_a_post_whose_kept_alive_connection_breaks_is_sent_once_more() -> None:
    async def answer_once_then_hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await head_of(reader)
        writer.write(OK)
        await writer.drain()
        await head_of(reader)  # the next request on this connection: closed unanswered

    server = Scripted(answer_once_then_hang_up)
    async with server as origin:
        poster = Poster()
        url = f"http://127.0.0.1:{origin.port}/e"
        assert (await poster.post(url, content=b"", headers={})).status_code == 200
        assert (await poster.post(url, content=b"", headers={})).status_code == 200
        poster.close()
    assert server.connections == 2


async def test_a_post_nobody_listens_to_raises_a_connection_error() -> None:
    poster = Poster(timeout=1)
    with pytest.raises(ConnectionError):
        await poster.post(f"http://127.0.0.1:{free_port()}/e", content=b"", headers={})
