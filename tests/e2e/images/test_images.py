"""The real images: built from the Dockerfile with buildah (as `task images` does), then each
run with its own entrypoint, as its own non-root user, on a read-only root filesystem."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from shop.registry import Registry
from tests.support.processes import ROOT
from tests.support.services import REDIS_URL, free_port, require

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

SERVICES = ("gateway", "users", "products", "orders", "notifications")
PREFIX, TAG = "localhost/shop-e2e", "e2e"
STORE = Path(os.environ.get("SHOP_E2E_CONTAINERS", "/var/lib/containers/shop-e2e"))
GRACE_SECONDS = 10.0
MAX_ADDED_MB = 100.0
# Top-level folders of the image mounted read-only over themselves: with /tmp a fresh tmpfs,
# and /dev, /proc, /sys, /run the runtime's own, the whole root filesystem is read-only.
READ_ONLY = ("opt", "usr", "etc", "var", "home", "root", "srv", "mnt", "media", "boot")


def buildah_options() -> list[str]:
    """A private store, on overlay where the kernel allows it (much faster than vfs)."""
    if "SHOP_E2E_BUILDAH_OPTS" in os.environ:
        return shlex.split(os.environ["SHOP_E2E_BUILDAH_OPTS"])
    for driver in ("overlay", "vfs"):
        options = [
            "--root",
            str(STORE / driver),
            "--runroot",
            f"/run/shop-e2e-{driver}",
            "--storage-driver",
            driver,
        ]
        probe = subprocess.run(["buildah", *options, "from", "scratch"], capture_output=True)
        if probe.returncode == 0:
            container = probe.stdout.decode().strip()
            mounted = subprocess.run(["buildah", *options, "mount", container], capture_output=True)
            subprocess.run(["buildah", *options, "rm", container], capture_output=True)
            if mounted.returncode == 0:
                return options
    pytest.fail("buildah can use neither overlay nor vfs storage here")


@dataclass
class Built:
    options: list[str]
    base: str
    seconds: float

    def buildah(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["buildah", *self.options, *args], check=True, capture_output=True, text=True
        )

    def config(self, image: str) -> dict[str, object]:
        record = json.loads(self.buildah("inspect", "--type", "image", image).stdout)
        config: dict[str, object] = record["OCIv1"]["config"]
        return config

    def layers(self, image: str) -> list[str]:
        record = json.loads(self.buildah("inspect", "--type", "image", image).stdout)
        layers: list[str] = record["OCIv1"]["rootfs"]["diff_ids"]
        return layers


def image(service: str) -> str:
    return f"{PREFIX}/{service}:{TAG}"


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    missing = [tool for tool in ("buildah", "podman", "debootstrap") if not shutil.which(tool)]
    if missing or os.geteuid() != 0:
        why = f"needs root and {', '.join(missing) or 'buildah'} (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(f"the image build {why}")
        pytest.skip(f"the image build {why}")
    options = buildah_options()
    env = {**os.environ, "BUILDAH_OPTS": shlex.join(options)}
    tool = [sys.executable, str(ROOT / "tools" / "images.py")]
    base = (
        os.environ.get("SHOP_E2E_PYTHON_IMAGE")
        or subprocess.run([*tool, "base"], env=env, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    started = time.monotonic()
    result = subprocess.run(
        [*tool, "build", "--prefix", PREFIX, "--tag", TAG, "--base", base],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"the image build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    print("\n".join(line for line in result.stdout.splitlines() if line.startswith("images:")))
    try:
        yield Built(options, base, time.monotonic() - started)
    finally:
        for service in SERVICES:
            subprocess.run(["buildah", *options, "rmi", image(service)], capture_output=True)


def test_the_five_images_share_every_layer_but_an_empty_last_one_and_add_at_most_100_mb(
    built: Built,
) -> None:
    layers = {service: built.layers(image(service)) for service in SERVICES}
    assert all(found[:-1] == layers["gateway"][:-1] for found in layers.values()), layers
    assert len({found[-1] for found in layers.values()}) == len(SERVICES)
    base = built.layers(built.base)
    assert layers["gateway"][: len(base)] == base
    inspect = ["podman", *built.options, "image", "inspect", "--format", "{{.Size}}"]
    sizes = subprocess.run(
        [*inspect, built.base, *(image(s) for s in SERVICES)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    base_size, *image_sizes = (int(size) for size in sizes)
    assert max(image_sizes) - min(image_sizes) < 16_384  # the per-service layer is empty
    added_mb = (max(image_sizes) - base_size) / 1e6
    print(f"images: each adds {added_mb:.1f} MB to {built.base} (shared by all five)")
    print(f"images: five built in {built.seconds:.0f}s")
    assert added_mb <= MAX_ADDED_MB


def test_each_image_names_its_service_runs_as_a_numeric_user_and_stops_on_sigterm(
    built: Built,
) -> None:
    for service in SERVICES:
        config = built.config(image(service))
        assert config["Entrypoint"] == ["/opt/venv/bin/shop", "serve"]
        assert f"SHOP_SERVICE={service}" in config["Env"]  # type: ignore[operator]
        assert config["User"] == "10001:10001"
        assert config["StopSignal"] == "SIGTERM"
        labels = config["Labels"]
        assert isinstance(labels, dict)
        assert labels["org.opencontainers.image.title"] == f"shop-{service}"
        assert labels["org.opencontainers.image.version"]


def test_the_runtime_image_has_no_uv_pip_compiler_or_dev_dependency(built: Built) -> None:
    container = built.buildah("from", image("orders")).stdout.strip()
    try:
        root = Path(built.buildah("mount", container).stdout.strip())
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
    built: Built, service: str
) -> None:
    require(REDIS_URL, "Redis")
    config = built.config(image(service))
    container = built.buildah("from", image(service)).stdout.strip()
    run: subprocess.Popen[bytes] | None = None
    try:
        root = Path(built.buildah("mount", container).stdout.strip())
        # buildah creates its mount points (/run/.containerenv, …) on the first run.
        built.buildah("run", "--isolation", "chroot", container, "--", "/bin/true")
        port, instance = free_port(), f"e2e-{service}-{os.getpid()}"
        env = {
            "PORT": str(port),
            "REDIS_URL": REDIS_URL,
            "INSTANCE_ID": instance,
            "ADVERTISE_URL": f"http://127.0.0.1:{port}",
            "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        }
        mounts = [
            f"--mount=type=bind,src={root / name},dst=/{name},ro"
            for name in READ_ONLY
            if (root / name).is_dir() and not (root / name).is_symlink()
        ]
        entrypoint = [*config["Entrypoint"], *(config.get("Cmd") or [])]  # type: ignore[misc]
        run = subprocess.Popen(
            [
                "buildah",
                *built.options,
                "run",
                "--isolation",
                "chroot",
                "--network",
                "host",
                "--user",
                str(config["User"]),
                "--mount=type=tmpfs,dst=/tmp",
                *mounts,
                *(f"--env={k}={v}" for k, v in env.items()),
                container,
                "--",
                *entrypoint,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ready_after = wait_ready(run, f"http://127.0.0.1:{port}")
        app = innermost(run.pid)
        cpu_seconds = cpu_time(app)
        uids = status(app)["Uid"].split()
        assert uids == ["10001"] * 4, uids  # real, effective, saved and filesystem uid
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).json()
        assert health["service"] == service
        assert health["instance_id"] == instance
        assert instance in asyncio.run(registered(service))
        rss_mib = int(status(app)["VmRSS"].split()[0]) / 1024
        print(
            f"images: {service} ready {ready_after:.2f}s after start ({cpu_seconds:.2f} CPU-s),"
            f" idle RSS {rss_mib:.0f} MiB"
        )

        app_pid = app
        os.kill(app_pid, signal.SIGTERM)
        stopping = time.monotonic()
        output, _ = run.communicate(timeout=GRACE_SECONDS + 10)
        stopped_after = time.monotonic() - stopping
        log = output.decode(errors="replace")
        assert run.returncode == 0, log[-3000:]
        assert stopped_after < GRACE_SECONDS, log[-3000:]
        assert instance not in asyncio.run(registered(service)), log[-3000:]
        print(f"images: {service} exited 0 {stopped_after:.2f}s after SIGTERM")
        assert writes_outside_tmp(root) == [], "the app wrote to its root filesystem"
    finally:
        if run is not None and run.poll() is None:
            run.kill()
            run.wait(10)
        subprocess.run(["buildah", *built.options, "rm", container], capture_output=True)


def wait_ready(run: subprocess.Popen[bytes], url: str, limit: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if run.poll() is not None:
            output = run.stdout.read().decode(errors="replace") if run.stdout else ""
            pytest.fail(f"the container exited with {run.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=0.5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{url}/ready did not answer 200 within {limit}s")


def innermost(pid: int) -> int:
    """The application: the deepest descendant of `buildah run` (under buildah-chroot-exec)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    current = pid
    while children.get(current):
        current = max(children[current])
    return current


def cpu_time(pid: int) -> float:
    """User plus system CPU seconds the process has used: a start-up cost load does not skew."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


async def registered(service: str) -> set[str]:
    client = Redis.from_url(REDIS_URL)
    try:
        return {i.instance_id for i in await Registry(client).instances(service)}
    finally:
        await client.aclose()


def writes_outside_tmp(root: Path) -> list[str]:
    """On overlay storage, the container's upper layer holds every file it wrote. Only the
    mount points buildah itself creates may be there."""
    if root.name != "merged":
        return []
    upper = root.parent / "diff"
    own = {"run", "run/.containerenv", "etc", "etc/hosts", "etc/resolv.conf", "etc/hostname"}
    return sorted(
        str(p.relative_to(upper))
        for p in upper.rglob("*")
        if str(p.relative_to(upper)) not in own and not p.is_dir()
    )
