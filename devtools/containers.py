"""The project's images, built with buildah from the Dockerfile (as `task images` does) and run
as a container runtime would: the image's own entrypoint and user, a read-only root filesystem,
a tmpfs on /tmp. Shared by the image smoke test and the image benchmark."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


SERVICES = ("gateway", "users", "products", "orders", "notifications")
STORE = Path(os.environ.get("SHOP_E2E_CONTAINERS", "/var/lib/containers/shop-e2e"))
TOOLS = ("buildah", "podman", "debootstrap")
# Top-level folders of the image mounted read-only over themselves: with /tmp a fresh tmpfs,
# and /dev, /proc, /sys, /run the runtime's own, the whole root filesystem is read-only.
READ_ONLY = ("opt", "usr", "etc", "var", "home", "root", "srv", "mnt", "media", "boot")


class Unavailable(RuntimeError):
    """This machine cannot build or run the images (no root, no buildah, …)."""


def missing() -> str | None:
    """Why the images cannot be built here, or None."""
    absent = [tool for tool in TOOLS if not shutil.which(tool)]
    if absent or os.geteuid() != 0:
        return f"needs root and {', '.join(absent) or 'buildah'} (see .ci/run)"
    return None


def buildah_options() -> list[str]:
    """A private store, on overlay where the kernel allows it (much faster than vfs)."""
    if (given := os.environ.get("SHOP_E2E_BUILDAH_OPTS")) is not None:
        return shlex.split(given)
    for driver in ("overlay", "vfs"):
        options = ["--root", str(STORE / driver), "--runroot", f"/run/shop-e2e-{driver}"]
        options += ["--storage-driver", driver]
        probe = subprocess.run(["buildah", *options, "from", "scratch"], capture_output=True)
        if probe.returncode == 0:
            container = probe.stdout.decode().strip()
            mounted = subprocess.run(["buildah", *options, "mount", container], capture_output=True)
            subprocess.run(["buildah", *options, "rm", container], capture_output=True)
            if mounted.returncode == 0:
                return options
    raise Unavailable("buildah can use neither overlay nor vfs storage here")


@dataclass
class Images:
    """The five images under `prefix/<service>:tag`, in the store `options` names."""

    options: list[str]
    prefix: str
    tag: str
    base: str = ""
    seconds: float = 0.0
    log: str = ""

    def name(self, service: str) -> str:
        return f"{self.prefix}/{service}:{self.tag}"

    def build(self) -> None:
        """The stand-in base where none is given (cached), then all five with tools/images.py."""
        env = {**os.environ, "BUILDAH_OPTS": shlex.join(self.options)}
        tool = [sys.executable, str(ROOT / "tools" / "images.py")]
        self.base = self.base or os.environ.get("SHOP_E2E_PYTHON_IMAGE", "")
        if not self.base:
            out = subprocess.run([*tool, "base"], env=env, check=True, capture_output=True)
            self.base = out.stdout.decode().strip().splitlines()[-1]
        # Untagged layers of past builds are the layer cache; keep three days of them.
        subprocess.run(
            ["podman", *self.options, "image", "prune", "-f", "--filter", "until=72h"],
            capture_output=True,
        )
        started = time.monotonic()
        result = subprocess.run(
            [*tool, "build", "--prefix", self.prefix, "--tag", self.tag, "--base", self.base],
            env=env,
            capture_output=True,
            text=True,
        )
        self.seconds = time.monotonic() - started
        self.log = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"the image build failed:\n{self.log[-6000:]}")

    def remove(self) -> None:
        for service in SERVICES:
            subprocess.run(
                ["buildah", *self.options, "rmi", self.name(service)], capture_output=True
            )

    def buildah(self, *args: str) -> str:
        return subprocess.run(
            ["buildah", *self.options, *args], check=True, capture_output=True, text=True
        ).stdout

    def config(self, image: str) -> dict[str, Any]:
        config: dict[str, Any] = self._record(image)["OCIv1"]["config"]
        return config

    def layers(self, image: str) -> list[str]:
        layers: list[str] = self._record(image)["OCIv1"]["rootfs"]["diff_ids"]
        return layers

    def sizes(self, *images: str) -> list[int]:
        out = subprocess.run(
            ["podman", *self.options, "image", "inspect", "--format", "{{.Size}}", *images],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [int(size) for size in out.split()]

    def _record(self, image: str) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self.buildah("inspect", "--type", "image", image))
        return record


class Container:
    """One working container of an image, run with the image's own entrypoint and user."""

    def __init__(self, images: Images, image: str) -> None:
        self.images = images
        self.config = images.config(image)
        self.id = images.buildah("from", image).strip()
        self.root = Path(images.buildah("mount", self.id).strip())
        self.process: subprocess.Popen[bytes] | None = None
        # buildah creates its own mount points (/run/.containerenv, …) on a first run.
        images.buildah("run", "--isolation", "chroot", self.id, "--", "/bin/true")

    def start(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        mounts = [
            f"--mount=type=bind,src={self.root / name},dst=/{name},ro"
            for name in READ_ONLY
            if (self.root / name).is_dir() and not (self.root / name).is_symlink()
        ]
        entrypoint = [*self.config["Entrypoint"], *(self.config.get("Cmd") or [])]
        self.process = subprocess.Popen(
            [
                "buildah",
                *self.images.options,
                "run",
                "--isolation",
                "chroot",
                "--network",
                "host",
                "--user",
                str(self.config["User"]),
                "--mount=type=tmpfs,dst=/tmp",
                *mounts,
                *(f"--env={k}={v}" for k, v in env.items()),
                self.id,
                "--",
                *entrypoint,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        return self.process

    def app(self) -> int:
        """The application: the deepest descendant of `buildah run` (under buildah-chroot-exec)."""
        assert self.process is not None
        return innermost(self.process.pid)

    def writes_outside_tmp(self) -> list[str]:
        """On overlay storage the container's upper layer holds every file it wrote. Only the
        mount points buildah itself creates may be there."""
        if self.root.name != "merged":
            return []
        upper = self.root.parent / "diff"
        own = {"run", "run/.containerenv", "etc", "etc/hosts", "etc/resolv.conf", "etc/hostname"}
        return sorted(
            str(p.relative_to(upper))
            for p in upper.rglob("*")
            if str(p.relative_to(upper)) not in own and not p.is_dir()
        )

    def remove(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
            if self.process.stdout is not None:
                self.process.stdout.close()
        subprocess.run(["buildah", *self.images.options, "rm", self.id], capture_output=True)


def wait_ready(
    url: str, process: subprocess.Popen[bytes] | None = None, limit: float = 30.0
) -> float:
    """Seconds until `url`/ready answers 200; fails early when `process` exits."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"exited with {process.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=0.5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url}/ready did not answer 200 within {limit}s")


def innermost(pid: int) -> int:
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


def rss_mib(pid: int) -> float:
    return int(status(pid)["VmRSS"].split()[0]) / 1024
