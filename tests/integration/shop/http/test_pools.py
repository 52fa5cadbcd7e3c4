"""The lean client's bounds, on real loopback sockets: idle connections per origin, open
connections in all, and origins that left the registry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from shop.http import origins
from shop.http.clients import ClientSettings, ServiceClients
from shop.http.http1 import Refused, Response
from shop.http.pools import Pools
from shop.registry.store import Instance, Registry
from shop.registry.view import RegistryView
from tests.support.scripted import OK, head_of

pytestmark = pytest.mark.integration


class KeepAlive:
    """An origin that answers every request on a connection until the client hangs up."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self._closing = asyncio.Event()
        self.base = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAlive:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.opened += 1
            try:
                while True:
                    await head_of(reader)
                    writer.write(OK)
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self.closed += 1
                self._closing.set()
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def until_closed(self, count: int) -> None:
        async with asyncio.timeout(5):
            while self.closed < count:
                self._closing.clear()
                await self._closing.wait()


@pytest.fixture
async def pools() -> AsyncIterator[Pools]:
    made = Pools(connect_timeout=0.5, max_idle=2, max_connections=3)
    yield made
    made.close()


async def call(pools: Pools, base: str) -> Response:
    origin, prefix = pools.origin(base)
    return await origins.send(origin, "GET", prefix + "/", [], b"", 2.0)


async def test_an_origin_keeps_at_most_max_idle_connections(pools: Pools) -> None:
    async with KeepAlive() as server:
        responses = await asyncio.gather(*(call(pools, server.base) for _ in range(3)))
        for response in responses:
            assert await response.read() == b"ok"
            response.release()
        await server.until_closed(1)

        assert server.opened == 3
        assert len(pools.origin(server.base)[0].idle) == 2
        again = await call(pools, server.base)
        again.release()
        assert server.opened == 3  # an idle one was reused


async def test_at_the_total_limit_the_longest_idle_connection_anywhere_closes(
    pools: Pools,
) -> None:
    async with KeepAlive() as first, KeepAlive() as second:
        held = await asyncio.gather(*(call(pools, first.base) for _ in range(2)))
        for response in held:
            await response.read()
            response.release()
        busy = await call(pools, second.base)  # the third open connection: the limit
        assert pools.limit.open == 3

        extra = await call(pools, second.base)  # closes one of first's idle connections
        await first.until_closed(1)

        assert pools.limit.open == 3
        assert len(pools.origin(first.base)[0].idle) == 1
        busy.release()
        extra.release()


async def test_at_the_total_limit_with_none_idle_a_call_waits_then_is_refused(
    pools: Pools,
) -> None:
    async with KeepAlive() as server:
        busy = await asyncio.gather(*(call(pools, server.base) for _ in range(3)))
        waiting = asyncio.create_task(call(pools, server.base))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await busy[0].read()
        busy[0].release()  # its connection is idle now: the waiting call takes it over
        response = await waiting
        assert await response.read() == b"ok"

        with pytest.raises(Refused):  # all three in use, and none comes back in time
            await call(pools, server.base)
        for held in (response, *busy[1:]):
            held.release()
        assert server.opened == 3


async def test_a_forgotten_origin_closes_its_idle_connections_and_those_in_use_on_release(
    pools: Pools,
) -> None:
    async with KeepAlive() as server:
        idle, in_use = await asyncio.gather(call(pools, server.base), call(pools, server.base))
        idle.release()
        pools.retain([])
        await server.until_closed(1)

        assert pools.known() == []
        in_use.release()
        await server.until_closed(2)
        assert pools.limit.open == 0


async def test_service_clients_drop_the_pool_of_an_instance_that_left_the_registry(
    redis: Redis,
) -> None:
    async with KeepAlive() as staying, KeepAlive() as leaving:
        registry = Registry(redis)
        for name, server in (("staying", staying), ("leaving", leaving)):
            await registry.register(
                Instance(instance_id=name, service="products", address=server.base)
            )
        view = RegistryView(registry)
        await view.refresh_now()
        clients = ServiceClients(ClientSettings(), view)
        try:
            for _ in range(2):
                assert (await clients.request("products", "GET", "/")).content == b"ok"
            assert sorted(clients.pools.known()) == sorted([staying.base, leaving.base])

            await registry.deregister("products", "leaving")
            await view.refresh_now()
            await clients.request("products", "GET", "/")
            await leaving.until_closed(1)

            assert clients.pools.known() == [staying.base]
            assert staying.closed == 0
        finally:
            await clients.close()
