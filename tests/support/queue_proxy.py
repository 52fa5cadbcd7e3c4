"""A stand-in for Knative's queue-proxy that drains as its source says (knative/serving 98e5ef9:
pkg/queue/sharedmain/main.go, handlers.go; vendor/knative.dev/pkg/network/handlers/drain.go).

- Main port (`PORT`): the Drainer answers health checks (User-Agent `kube-probe/...`, or the
  activator's and autoscaler's probe agents) itself: 503 "shutting down" once draining, else
  the user container's readiness. `K-Network-Probe: probe` gets 503 once draining, else 200
  echoing `K-Network-Hash` (400 without it). Neither restarts the quiet period nor reaches the
  user container. Every other request restarts the quiet period (if draining and not yet
  drained) and is proxied to the user container (`QP_TARGET`).
- `Drain()` starts a timer of one quiet period (`QP_QUIET_SECONDS`, Knative's 30 s) and blocks
  until it fires; once started, draining stays true.
- Admin port (`QP_ADMIN_PORT`): `GET /wait-for-drain` (the user container's preStop hook)
  calls Drain() and answers 200 when drained; without a SIGTERM within 1 s it resets the
  Drainer (a liveness restart, not a deletion).
- SIGTERM: Drain(), then shut the servers down and exit.
Kubelet's part (preStop, then SIGTERM to the user container) is the test's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

if TYPE_CHECKING:
    from types import FrameType

HEALTH_AGENTS = ("kube-probe/", "Knative-Activator-Probe", "Knative-Autoscaling-Probe")
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"host", b"content-length"}


class Drainer:
    def __init__(self, quiet_period: float) -> None:
        self.quiet_period = quiet_period
        self._timer: asyncio.TimerHandle | None = None
        self._drained: asyncio.Event | None = None
        self._fired = False

    def draining(self) -> bool:
        return self._drained is not None

    async def drain(self) -> None:
        if self._drained is None:
            self._drained = asyncio.Event()
            self._fired = False
            self._arm()
        await self._drained.wait()

    def reset_timer(self) -> None:
        """A request while draining restarts the quiet period (Go: `if timer.Stop() { Reset }`)."""
        if self._timer is not None and not self._fired:
            self._timer.cancel()
            self._arm()

    def reset(self) -> None:
        """Not a deletion after all: stop draining (waiters are released, as in Go)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._drained is not None:
            self._drained.set()
        self._timer, self._drained = None, None

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.quiet_period, self._fire)

    def _fire(self) -> None:
        self._fired = True
        if self._drained is not None:
            self._drained.set()


class QueueProxy:
    def __init__(self, target: str, drainer: Drainer) -> None:
        self.target = target.rstrip("/")
        self.drainer = drainer
        self.terminated = False
        self.client = httpx.AsyncClient(timeout=30)

    async def main(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if headers.get("user-agent", "").startswith(HEALTH_AGENTS):
            if self.drainer.draining():
                await _answer(send, 503, b"shutting down\n")
            else:
                await _answer(send, await self._user_ready(), b"")
            return
        if headers.get("k-network-probe") == "probe":
            if self.drainer.draining():
                await _answer(send, 503, b"shutting down\n")
            elif not headers.get("k-network-hash"):
                await _answer(send, 400, b"a probe request must contain K-Network-Hash\n")
            else:
                await _answer(send, 200, b"", [(b"k-network-hash", headers["k-network-hash"])])
            return
        self.drainer.reset_timer()
        await self._proxy(scope, receive, send)

    async def admin(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/wait-for-drain":
            await _answer(send, 404, b"")
            return

        async def reset_unless_terminated() -> None:
            await asyncio.sleep(1.0)
            if not self.terminated:
                self.drainer.reset()

        check = asyncio.create_task(reset_unless_terminated())
        await self.drainer.drain()
        check.cancel()
        await _answer(send, 200, b"")

    async def _user_ready(self) -> int:
        try:
            response = await self.client.get(f"{self.target}/ready")
        except httpx.HTTPError:
            return 503
        return 200 if response.status_code == 200 else 503

    async def _proxy(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        forwarded = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        try:
            response = await self.client.request(
                scope["method"],
                f"{self.target}{scope['path']}{query}",
                headers=forwarded,
                content=body,
            )
        except httpx.HTTPError:
            await _answer(send, 502, b"user container unreachable\n")
            return
        kept = [
            (k.encode(), v.encode())
            for k, v in response.headers.items()
            if k.lower().encode() not in HOP_BY_HOP
        ]
        await _answer(send, response.status_code, response.content, kept)


async def _answer(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, Any]] | None = None
) -> None:
    raw = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers or []]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _Main(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, proxy: QueueProxy, admin: uvicorn.Server) -> None:
        super().__init__(config)
        self.proxy = proxy
        self.admin = admin

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: drain first (main.go: `drainers.StandardDrainer.Drain()`), then stop."""
        if self.proxy.terminated:
            return
        self.proxy.terminated = True

        async def drain_then_stop() -> None:
            await self.proxy.drainer.drain()
            self.should_exit = self.admin.should_exit = True

        self._drain_task = asyncio.get_running_loop().create_task(drain_then_stop())


class _Admin(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the main server handles SIGTERM for both


async def serve() -> None:
    proxy = QueueProxy(os.environ["QP_TARGET"], Drainer(float(os.environ["QP_QUIET_SECONDS"])))
    quiet: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
        "host": "127.0.0.1",
        "interface": "asgi3",
    }
    admin = _Admin(uvicorn.Config(proxy.admin, port=int(os.environ["QP_ADMIN_PORT"]), **quiet))
    main = _Main(uvicorn.Config(proxy.main, port=int(os.environ["PORT"]), **quiet), proxy, admin)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    await asyncio.gather(main.serve(), admin.serve())


if __name__ == "__main__":
    asyncio.run(serve())
