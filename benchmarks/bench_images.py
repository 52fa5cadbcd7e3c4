"""Each service's image against the same service run straight from the checkout, side by side in
one run: wall time and CPU seconds until /ready answers, and idle RSS. Plus what the images add
to their base. Needs root and buildah (as the image smoke test does); builds with its cache."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks.report import ROOT, Section, Stat
from devtools.containers import (
    SERVICES,
    Container,
    Images,
    buildah_options,
    cpu_time,
    innermost,
    missing,
    rss_mib,
    wait_ready,
)
from devtools.embedded_redis import free_port

RUNS = int(os.environ.get("BENCH_IMAGE_RUNS", "3"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def sample(port: int, pid: int) -> list[float]:
    """[seconds to ready, CPU seconds to ready, idle RSS MiB] of one cold start."""
    seconds = wait_ready(f"http://127.0.0.1:{port}", limit=60.0)
    app = innermost(pid)
    cpu = cpu_time(app)
    time.sleep(1.0)  # idle: past start-up, the first heartbeat done
    return [seconds, cpu, rss_mib(app)]


def environment(port: int) -> dict[str, str]:
    return {"PORT": str(port), "REDIS_URL": REDIS_URL, "SHUTDOWN_GRACE_SECONDS": "5"}


def image_cold_start(images: Images, service: str) -> list[float]:
    container = Container(images, images.name(service))
    try:
        port = free_port()
        process = container.start(environment(port))
        found = sample(port, process.pid)
        os.kill(container.app(), signal.SIGTERM)  # deregister, as on Knative
        process.wait(15)
        return found
    finally:
        container.remove()


def host_cold_start(service: str, data_dir: str) -> list[float]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shop.runtime.entry", service],
        cwd=ROOT,
        env={**os.environ, **environment(port), "HOST": "127.0.0.1", "SHOP_DATA_DIR": data_dir},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return sample(port, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run() -> Section:
    section = Section(
        name="images",
        title="Images: cold start and memory in the container against the checkout",
        command="uv run task bench -- images",
        headers=["service", "ready (image)", "ready (checkout)", "CPU to ready", "idle RSS"],
    )
    why = missing()
    if why:
        section.notes.append(f"not run: the image build {why}")
        return section
    images = Images(buildah_options(), "localhost/shop-bench", "bench")
    images.build()
    data_dir = tempfile.mkdtemp(prefix="shop-bench-images-")
    try:
        for service in SERVICES:
            samples: dict[str, list[list[float]]] = {"image": [], "host": []}
            for _ in range(RUNS):
                samples["image"].append(image_cold_start(images, service))
                samples["host"].append(host_cold_start(service, data_dir))
            section.rows.append(row(service, samples))
        base_size, *sizes = images.sizes(images.base, *(images.name(s) for s in SERVICES))
        section.notes += [
            f"each image adds {(max(sizes) - base_size) / 1e6:.1f} MB to {images.base}; the five"
            " share every layer but an empty per-service one",
            f"the five built in {images.seconds:.0f}s (layer cache as found)",
            f"{RUNS} cold starts each, alternating image and checkout; the image runs under"
            " `buildah run` (chroot), read-only root, tmpfs /tmp; Redis registration on",
            "CPU to ready is the app's user+system CPU time when /ready first answers 200:"
            " unlike wall time it does not grow with the machine's load",
        ]
    finally:
        images.remove()
        shutil.rmtree(data_dir, ignore_errors=True)
    return section


def row(service: str, samples: dict[str, list[list[float]]]) -> list[str]:
    image = [Stat.of([s[i] for s in samples["image"]]) for i in range(3)]
    host = [Stat.of([s[i] for s in samples["host"]]) for i in range(3)]
    return [
        service,
        image[0].fmt("s", 1.0, 2),
        host[0].fmt("s", 1.0, 2),
        f"{image[1].median:.2f} s vs {host[1].median:.2f} s"
        f" (×{image[1].median / host[1].median:.2f})",
        f"{image[2].median:.0f} MiB vs {host[2].median:.0f} MiB"
        f" (×{image[2].median / host[2].median:.2f})",
    ]
