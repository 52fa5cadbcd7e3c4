"""The real images: built from the Dockerfile with buildah (as `task images` does), then each
run with its own entrypoint, as its own non-root user, on a read-only root filesystem."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from devtools.containers import (
    SERVICES,
    Container,
    Images,
    Unavailable,
    buildah_options,
    cpu_time,
    missing,
    rss_mib,
    status,
    wait_ready,
)
from shop.registry.store import Registry
from tests.support.services import free_port, redis_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

GRACE_SECONDS = 10.0
MAX_ADDED_MB = 100.0


@pytest.fixture(scope="module")
def built() -> Iterator[Images]:
    why = missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the image build {why}")
        pytest.skip(f"the image build {why}")
    try:
        images = Images(buildah_options(), "localhost/shop-e2e", "e2e")
        images.build()
    except (Unavailable, RuntimeError) as exc:
        pytest.fail(str(exc))
    print("\n".join(line for line in images.log.splitlines() if line.startswith("images:")))
    try:
        yield images
    finally:
        images.remove()


def test_the_five_images_share_every_layer_but_an_empty_last_one_and_add_at_most_100_mb(
    built: Images,
) -> None:
    layers = {service: built.layers(built.name(service)) for service in SERVICES}
    assert all(found[:-1] == layers["gateway"][:-1] for found in layers.values()), layers
    assert len({found[-1] for found in layers.values()}) == len(SERVICES)
    base = built.layers(built.base)
    assert layers["gateway"][: len(base)] == base
    base_size, *image_sizes = built.sizes(built.base, *(built.name(s) for s in SERVICES))
    assert max(image_sizes) - min(image_sizes) < 16_384  # the per-service layer is empty
    added_mb = (max(image_sizes) - base_size) / 1e6
    print(f"images: each adds {added_mb:.1f} MB to {built.base} (shared by all five)")
    print(f"images: five built in {built.seconds:.0f}s")
    assert added_mb <= MAX_ADDED_MB


def test_each_image_names_its_service_runs_as_a_numeric_user_and_stops_on_sigterm(
    built: Images,
) -> None:
    for service in SERVICES:
        config = built.config(built.name(service))
        assert config["Entrypoint"] == ["/opt/venv/bin/shop-serve"]
        assert f"SHOP_SERVICE={service}" in config["Env"]
        assert config["User"] == "10001:10001"
        assert config["StopSignal"] == "SIGTERM"
        assert config["Labels"]["org.opencontainers.image.title"] == f"shop-{service}"
        assert config["Labels"]["org.opencontainers.image.version"]


def test_the_runtime_image_has_no_uv_pip_compiler_or_dev_dependency(built: Images) -> None:
    container = built.buildah("from", built.name("orders")).strip()
    try:
        root = Path(built.buildah("mount", container).strip())
        site = next((root / "opt" / "venv" / "lib").glob("python3*/site-packages"))
        present = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
        assert {"litestar", "uvicorn", "redis", "shop"} <= present
        assert not present & {"uv", "pip", "pytest", "mypy", "ruff", "hypothesis", "faker"}
        for tool in ("uv", "gcc", "cc", "strip"):
            assert not (root / "usr" / "bin" / tool).exists(), tool
            assert not (root / "opt" / "venv" / "bin" / tool).exists(), tool
    finally:
        built.buildah("rm", container)


@pytest.mark.parametrize("service", SERVICES)
def test_the_entrypoint_serves_read_only_as_non_root_and_deregisters_on_sigterm(
    built: Images, service: str
) -> None:
    url = redis_url()
    container = Container(built, built.name(service))
    try:
        port, instance = free_port(), f"e2e-{service}-{os.getpid()}"
        run = container.start(
            {
                "PORT": str(port),
                "REDIS_URL": url,
                "INSTANCE_ID": instance,
                "ADVERTISE_URL": f"http://127.0.0.1:{port}",
                "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            }
        )
        ready_after = wait_ready(f"http://127.0.0.1:{port}", run)
        app = container.app()
        cpu_seconds = cpu_time(app)
        uids = status(app)["Uid"].split()
        assert uids == ["10001"] * 4, uids  # real, effective, saved and filesystem uid
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).json()
        assert health["service"] == service
        assert health["instance_id"] == instance
        assert instance in asyncio.run(registered(service))
        print(
            f"images: {service} ready {ready_after:.2f}s after start ({cpu_seconds:.2f} CPU-s),"
            f" idle RSS {rss_mib(app):.0f} MiB"
        )

        os.kill(app, signal.SIGTERM)
        stopping = time.monotonic()
        output, _ = run.communicate(timeout=GRACE_SECONDS + 10)
        stopped_after = time.monotonic() - stopping
        log = output.decode(errors="replace")
        assert run.returncode == 0, log[-3000:]
        assert stopped_after < GRACE_SECONDS, log[-3000:]
        assert instance not in asyncio.run(registered(service)), log[-3000:]
        print(f"images: {service} exited 0 {stopped_after:.2f}s after SIGTERM")
        assert container.writes_outside_tmp() == [], "the app wrote to its root filesystem"
    finally:
        container.remove()


async def registered(service: str) -> set[str]:
    client = Redis.from_url(redis_url())
    try:
        return {i.instance_id for i in await Registry(client).instances(service)}
    finally:
        await client.aclose()
