"""`shop up`: the whole system on one machine, on embedded defaults, with no cluster.

It starts a private Redis (unless `REDIS_URL` is set), runs every service as a real
`shop serve` process (as its container would), waits until each is ready, shows a live status
table, restarts a crashed instance with backoff as Kubernetes would, rolls a service over
without failed requests on `shop restart SERVICE`, and on Ctrl-C shuts everything down
gracefully: every instance deregisters before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.broker.identity import events_env
from devtools.console import StatusBoard, console
from devtools.control import SOCKET_NAME, serve_control
from devtools.embedded_redis import EmbeddedRedis, free_port
from devtools.liveness import Liveness
from devtools.local_admin import admin_env, local_admin
from devtools.parent_death import die_with_parent
from shop.runtime.background import Background
from shop.runtime.catalog import APPS, FUNCTIONS
from shop.runtime.retry import Backoff, Retries

STATE_FILE = "shop-up.json"
LOCK_FILE = "shop-up.lock"
PRODUCERS = ("users", "orders")  # their outbox relays publish to the broker


@dataclass
class Instance:
    service: str
    index: int
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default_factory=time.monotonic)
    retired: bool = False  # stopped on purpose (rolling restart): the supervisor lets it go

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_replicas(items: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(APPS, 1)
    for item in items:
        name, _, number = item.partition("=")
        if name not in APPS or not number.isdigit() or not 1 <= int(number) <= 16:
            raise SystemExit(f"shop up: --replicas wants SERVICE=N with N in 1..16, got {item!r}")
        counts[name] = int(number)
    return counts


class LocalStack:
    def __init__(
        self,
        *,
        port: int,
        replicas: dict[str, int],
        data_dir: Path,
        otlp_endpoint: str | None = None,
    ) -> None:
        self.port = port
        self.replicas = replicas
        self.data_dir = data_dir
        self.otlp_endpoint = otlp_endpoint
        self.console = console()
        self.board = StatusBoard(f"http://127.0.0.1:{port}")
        self.redis = EmbeddedRedis(data_dir)
        self.redis_url = os.environ.get("REDIS_URL", "")
        self.instances: list[Instance] = []
        self.stopping = asyncio.Event()
        self._monitors = Background()
        self.liveness = Liveness()
        # The gateway's port, held here and shared by every gateway instance: a restarted
        # gateway accepts on it before the old one stops, so no connection is ever refused.
        self.listener: socket.socket | None = None

    def env(self, service: str | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "HOST": "127.0.0.1",
            "SHOP_DATA_DIR": str(self.data_dir),
            "SHUTDOWN_GRACE_SECONDS": "10",
            # Without Knative's queue-proxy in front, keep serving briefly after deregistering,
            # so the gateway's view (updated by pub/sub within milliseconds) stops routing first.
            "SHUTDOWN_DRAIN_DELAY_SECONDS": "0.3",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(admin_env(self.data_dir, os.environ))  # users bootstraps it
        if self.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
            env.setdefault("OTEL_SERVICE_NAME", service or "shop")
        broker = next((i for i in self.instances if i.service == "broker"), None)
        if service in PRODUCERS and broker is not None and "BROKER_URL" not in os.environ:
            env["BROKER_URL"] = f"{broker.url}/default/default"  # Knative's ingress path shape
        if service in FUNCTIONS:
            env.update(events_env(self.data_dir, service))  # the local OIDC issuer's senders
        return env

    async def run(self) -> int:
        """Fail at once, starting nothing, when the data dir or the port is taken."""
        with claim_data_dir(self.data_dir) as problem:
            if problem is None:
                self.listener, problem = listen(self.port)
            if problem is not None:
                self.console.print(f"shop up: {problem}", style="red", markup=False)
                return 1
            return await self._run()

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        if not self.redis_url:
            self.redis_url = self.redis.start()
            self.say(f"redis     private {self.redis.kind}")
        started = time.monotonic()
        try:
            order = ["broker", *FUNCTIONS, "gateway"]
            for service in order:
                for index in range(self.replicas.get(service, 1)):
                    log_path = self.data_dir / "logs" / f"{service}-{index}.log"
                    self.instances.append(Instance(service, index, free_port(), log_path))
            await asyncio.gather(*(self._spawn(i) for i in self.instances))
            if not await self._wait_ready(30.0):
                return 1
            self.say(
                f"all {len(self.instances)} instances ready in {time.monotonic() - started:.2f}s"
            )
            self._write_state()
            control = await serve_control(self.data_dir / SOCKET_NAME, self.command)
            for instance in self.instances:
                self._watch(instance)
            self.print_urls()
            self.say("Ctrl-C stops everything.")
            async with control:
                await self.watch()
            return 0
        finally:
            await self.shutdown()

    async def _spawn(self, instance: Instance) -> None:
        log = instance.log_path.open("ab")
        shared: tuple[int, ...] = ()
        if instance.service == "gateway" and self.listener is not None:
            shared = (self.listener.fileno(),)  # its own port for probes, and the public one
        instance.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devtools",
            "serve",
            instance.service,
            "--port",
            str(instance.port),
            *(("--shared-fd", str(shared[0])) if shared else ()),
            pass_fds=shared,
            env=self.env(instance.service),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # a SIGKILL of `shop up` leaves no instance behind
        )
        log.close()
        instance.started_at = time.monotonic()
        if self._monitors.running():  # keep the state file current for `shop registry` & co.
            self._write_state()

    async def _wait_ready(self, limit: float) -> bool:
        deadline = time.monotonic() + limit
        pending = list(self.instances)
        async with httpx.AsyncClient(timeout=0.5) as client:
            while pending and not self.stopping.is_set():
                for instance in list(pending):
                    if instance.process is not None and instance.process.returncode is not None:
                        self.say(f"{instance.service} exited at start; see {instance.log_path}")
                        return False
                    try:
                        if (await client.get(f"{instance.url}/ready")).status_code == 200:
                            pending.remove(instance)
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    self.say(f"not ready after {limit}s: {', '.join(i.service for i in pending)}")
                    return False
                await asyncio.sleep(0.02)
        return not pending

    def _watch(self, instance: Instance) -> None:
        name = f"supervise-{instance.service}-{instance.index}"
        self._monitors.start(name, functools.partial(self._supervise, instance))

    async def _supervise(self, instance: Instance) -> None:
        retries = Retries(Backoff(first=1.0, cap=30.0))  # as CrashLoopBackOff, with jitter
        ready = True  # the stack waited for it; a restarted one must answer once first
        while not self.stopping.is_set():
            assert instance.process is not None
            code = await self.liveness.wait(
                instance.url,
                instance.process,
                lambda n: self.say(
                    f"{instance.service}#{instance.index} failed {n} liveness probes in a row;"
                    " killing it, as Kubernetes would"
                ),
                stopping=lambda: instance.retired or self.stopping.is_set(),
                ready=ready,
            )
            ready = False
            if self.stopping.is_set() or instance.retired:
                return
            if time.monotonic() - instance.started_at > 60:
                retries.succeeded()
            backoff = retries.next_delay()
            instance.restarts += 1
            self.say(
                f"{instance.service}#{instance.index} exited ({code}); restart {instance.restarts} "
                f"in {backoff:.0f}s, as Kubernetes would"
            )
            await asyncio.sleep(backoff)
            if not self.stopping.is_set():
                await self._spawn(instance)

    def say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def print_urls(self) -> None:
        gateway = f"http://127.0.0.1:{self.port}"
        self.say(f"storefront  {gateway}/")
        self.say(f"API docs    {gateway}/schema (gateway); each function: <its url>/schema/swagger")
        self.say(f"metrics     {gateway}/metrics    registry {gateway}/registry (admin)")
        self.say(f"logs        {self.data_dir / 'logs'}    `shop registry`, `shop restart SERVICE`")
        admin, password = local_admin(self.data_dir, os.environ)
        self.say(f"admin       {admin} / {password}   (log in with POST /auth/token)")

    async def watch(self) -> None:
        """The live table on a terminal (refreshed every second); one plain table otherwise."""
        async with httpx.AsyncClient(timeout=1.0) as client:
            await self.board.poll(self.instances, client)
            if not self.console.is_terminal:
                self.console.print(self.board.table(self.instances))
                await self.stopping.wait()
                return
            from rich.live import Live

            with Live(self.board.table(self.instances), console=self.console) as live:
                while not self.stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), 1.0)
                    await self.board.poll(self.instances, client)
                    live.update(self.board.table(self.instances))

    async def command(self, line: str) -> AsyncIterator[str]:
        verb, _, service = line.partition(" ")
        if verb != "restart" or service not in APPS:
            yield f"error: expected `restart SERVICE` with SERVICE one of {', '.join(APPS)}"
            return
        async for progress in self.rolling_restart(service):
            yield progress

    async def rolling_restart(self, service: str) -> AsyncIterator[str]:
        """Start a new instance, wait until it is ready, then SIGTERM the old one (which
        deregisters, drains and exits), one instance at a time. Gateways share the public
        port (held by `shop up`): the new one accepts on it before the old one stops."""
        for old in [i for i in self.instances if i.service == service]:
            port = free_port()
            new = Instance(service, old.index, port, old.log_path)
            await self._spawn(new)
            self.instances.insert(self.instances.index(old) + 1, new)
            if not await self._ready(new, 30.0):
                yield f"error: new {service}#{old.index} not ready; see {new.log_path}"
                return
            yield f"{service}#{old.index}: new instance ready on port {port}"
            await self._retire(old)
            yield f"{service}#{old.index}: old instance on port {old.port} drained and stopped"
            self.instances.remove(old)
            self._write_state()
            self._watch(new)
            self.say(f"rolled {service}#{old.index} over to port {port}")
        yield f"ok: {service} restarted"

    async def _retire(self, instance: Instance) -> None:
        instance.retired = True
        if instance.process is not None and instance.process.returncode is None:
            instance.process.send_signal(signal.SIGTERM)
            await _wait(instance.process, 20)

    async def _ready(self, instance: Instance, limit: float) -> bool:
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=0.5) as client:
            while time.monotonic() < deadline:
                if instance.process is not None and instance.process.returncode is not None:
                    return False
                try:
                    if (await client.get(f"{instance.url}/ready")).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        return False

    async def shutdown(self) -> None:
        """In dependency order, each stage waiting for the one before to exit: the gateway
        (no new work), then the functions (in-flight orders finish and publish), then the
        broker (delivers what they published), then Redis."""
        self.stopping.set()
        await self._monitors.stop()
        running = [i for i in self.instances if i.process and i.process.returncode is None]
        results: list[bool] = []
        for stage in stop_stages(running):
            for instance in stage:
                assert instance.process is not None
                instance.process.send_signal(signal.SIGTERM)
            results += await asyncio.gather(*(_wait(i.process, 15) for i in stage if i.process))
        if self.listener is not None:
            self.listener.close()
        self.redis.stop()
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        (self.data_dir / SOCKET_NAME).unlink(missing_ok=True)
        self.say(f"stopped {len(running)} instances ({sum(results)} exited cleanly)")

    def _write_state(self) -> None:
        state = {
            "redis_url": self.redis_url,
            "instances": [
                {"service": i.service, "url": i.url, "pid": i.process.pid if i.process else None}
                for i in self.instances
            ],
        }
        _write_private(self.data_dir / STATE_FILE, json.dumps(state, indent=2))


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by this user only (it holds the Redis password)."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temporary.replace(path)  # atomic: a reader never sees half a file


def stop_stages(instances: list[Instance]) -> list[list[Instance]]:
    """The instances grouped in stop order: gateway, functions, broker (then anything else)."""
    rank = {"gateway": 0, **dict.fromkeys(FUNCTIONS, 1), "broker": 2}
    stages: dict[int, list[Instance]] = {}
    for instance in instances:
        stages.setdefault(rank.get(instance.service, 3), []).append(instance)
    return [stages[key] for key in sorted(stages)]


async def _wait(process: asyncio.subprocess.Process, limit: float) -> bool:
    try:
        return await asyncio.wait_for(process.wait(), limit) == 0
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


def _state(data_dir: Path) -> dict[str, Any]:
    path = data_dir / STATE_FILE
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return state


def listen(port: int) -> tuple[socket.socket | None, str | None]:
    """The gateway's listening socket on 127.0.0.1:`port`, or why there cannot be one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None, f"port {port} is already in use; stop what uses it or pick --port"
        return None, f"cannot listen on port {port}: {exc.strerror or exc}"
    return sock, None


@contextlib.contextmanager
def claim_data_dir(data_dir: Path) -> Iterator[str | None]:
    """Hold the data dir for this `shop up` (an flock the kernel drops when we exit);
    yields None, or why another `shop up` holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            yield f"{data_dir} is in use by another `shop up` (pid {holder}); pick --data-dir"
            return
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield None


def state_redis_url(data_dir: Path) -> str | None:
    """The Redis of the `shop up` running in `data_dir`, if one is."""
    url: str | None = _state(data_dir).get("redis_url")
    return url


def state_instances(data_dir: Path) -> list[dict[str, Any]]:
    """The instances ({service, url, pid}) of the `shop up` running in `data_dir`."""
    instances: list[dict[str, Any]] = _state(data_dir).get("instances", [])
    return instances


def data_directory(data_dir: str | None = None) -> Path:
    return Path(data_dir or os.environ.get("SHOP_DATA_DIR", ".data")).resolve()


def run_up(
    *, port: int, replicas: list[str], data_dir: str | None, otlp_endpoint: str | None = None
) -> int:
    stack = LocalStack(
        port=port,
        replicas=parse_replicas(replicas),
        data_dir=data_directory(data_dir),
        otlp_endpoint=otlp_endpoint,
    )
    return asyncio.run(stack.run())
