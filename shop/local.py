"""`shop up`: the whole system on one machine, on embedded defaults, with no cluster.

It starts a private Redis (unless `REDIS_URL` is set), runs every service as a real
`shop serve` process (as its container would), waits until each is ready, prints where
everything is, restarts a crashed instance with backoff, and on Ctrl-C shuts everything
down gracefully: every instance deregisters before it exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shop.catalog import APPS, FUNCTIONS
from shop.embedded_redis import EmbeddedRedis, _free_port

STATE_FILE = "shop-up.json"
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
    def __init__(self, *, port: int, replicas: dict[str, int], data_dir: Path) -> None:
        self.port = port
        self.replicas = replicas
        self.data_dir = data_dir
        self.redis = EmbeddedRedis(data_dir)
        self.redis_url = os.environ.get("REDIS_URL", "")
        self.instances: list[Instance] = []
        self.stopping = asyncio.Event()
        self._monitors: list[asyncio.Task[None]] = []

    def env(self, service: str | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "HOST": "127.0.0.1",
            "SHOP_DATA_DIR": str(self.data_dir),
            "SHUTDOWN_GRACE_SECONDS": "10",
            "PYTHONUNBUFFERED": "1",
        }
        broker = next((i for i in self.instances if i.service == "broker"), None)
        if service in PRODUCERS and broker is not None and "BROKER_URL" not in os.environ:
            env["BROKER_URL"] = f"{broker.url}/default/default"  # Knative's ingress path shape
        return env

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        if not self.redis_url:
            self.redis_url = self.redis.start()
            say(f"redis     private {self.redis.kind}")
        started = time.monotonic()
        try:
            order = ["broker", *FUNCTIONS, "gateway"]
            for service in order:
                for index in range(self.replicas.get(service, 1)):
                    port = self.port if service == "gateway" and index == 0 else _free_port()
                    log_path = self.data_dir / "logs" / f"{service}-{index}.log"
                    self.instances.append(Instance(service, index, port, log_path))
            await asyncio.gather(*(self._spawn(i) for i in self.instances))
            if not await self._wait_ready(30.0):
                return 1
            say(f"all {len(self.instances)} instances ready in {time.monotonic() - started:.2f}s")
            self._write_state()
            await self.print_status()
            self._monitors = [asyncio.create_task(self._supervise(i)) for i in self.instances]
            say("Ctrl-C stops everything.")
            await self.stopping.wait()
            return 0
        finally:
            await self.shutdown()

    async def _spawn(self, instance: Instance) -> None:
        log = instance.log_path.open("ab")
        instance.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shop",
            "serve",
            instance.service,
            "--port",
            str(instance.port),
            env=self.env(instance.service),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        instance.started_at = time.monotonic()

    async def _wait_ready(self, limit: float) -> bool:
        deadline = time.monotonic() + limit
        pending = list(self.instances)
        async with httpx.AsyncClient(timeout=0.5) as client:
            while pending and not self.stopping.is_set():
                for instance in list(pending):
                    if instance.process is not None and instance.process.returncode is not None:
                        say(f"{instance.service} exited at start; see {instance.log_path}")
                        return False
                    try:
                        if (await client.get(f"{instance.url}/ready")).status_code == 200:
                            pending.remove(instance)
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    say(f"not ready after {limit}s: {', '.join(i.service for i in pending)}")
                    return False
                await asyncio.sleep(0.02)
        return not pending

    async def _supervise(self, instance: Instance) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            assert instance.process is not None
            code = await instance.process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - instance.started_at > 60:
                backoff = 1.0
            instance.restarts += 1
            say(
                f"{instance.service}#{instance.index} exited ({code}); restart {instance.restarts} "
                f"in {backoff:.0f}s, as Kubernetes would"
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            if not self.stopping.is_set():
                await self._spawn(instance)

    async def print_status(self) -> None:
        say(f"{'service':<14}{'instance':<10}{'url':<28}health")
        async with httpx.AsyncClient(timeout=1.0) as client:
            for instance in self.instances:
                try:
                    body = (await client.get(f"{instance.url}/health")).json()
                    health = body.get("status", "?")
                    name = body.get("instance_id", "?")
                except (httpx.HTTPError, ValueError):
                    health, name = "down", "-"
                say(f"{instance.service:<14}{name[:9]:<10}{instance.url:<28}{health}")
        gateway = f"http://127.0.0.1:{self.port}"
        say(f"gateway   {gateway}   metrics {gateway}/metrics   API docs {gateway}/schema")
        say(f"logs      {self.data_dir / 'logs'}   registry: `shop registry`")

    async def shutdown(self) -> None:
        self.stopping.set()
        for task in self._monitors:
            task.cancel()
        running = [i.process for i in self.instances if i.process and i.process.returncode is None]
        # The gateway first, so no new work reaches the functions while they drain.
        for process in sorted(running, key=lambda p: p is not self._gateway_process()):
            process.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*(_wait(p, 15) for p in running))
        self.redis.stop()
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        say(f"stopped {len(running)} instances ({sum(results)} exited cleanly)")

    def _gateway_process(self) -> asyncio.subprocess.Process | None:
        return next((i.process for i in self.instances if i.service == "gateway"), None)

    def _write_state(self) -> None:
        state = {
            "redis_url": self.redis_url,
            "instances": [{"service": i.service, "url": i.url} for i in self.instances],
        }
        (self.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


async def _wait(process: asyncio.subprocess.Process, limit: float) -> bool:
    try:
        return await asyncio.wait_for(process.wait(), limit) == 0
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


def say(line: str) -> None:
    print(line, flush=True)


def state_redis_url(data_dir: Path) -> str | None:
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    url: str = json.loads(path.read_text())["redis_url"]
    return url


def run_up(*, port: int, replicas: list[str], data_dir: str | None) -> int:
    directory = Path(data_dir or os.environ.get("SHOP_DATA_DIR", ".data")).resolve()
    stack = LocalStack(port=port, replicas=parse_replicas(replicas), data_dir=directory)
    return asyncio.run(stack.run())
