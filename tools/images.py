"""Build the five service images from the one Dockerfile; report what each adds to its base.

    python tools/images.py build [--prefix dev.local/shop] [--tag 0.1.0] [--push] [SERVICE ...]
    python tools/images.py base      # the Debian stand-in base, where no base can be pulled
    python tools/images.py sizes

`task images` runs `build`. The builder is buildah when installed (daemonless), else podman,
else docker. `BUILDAH_OPTS` holds global buildah options (e.g. another storage root). The
shared layers are built once; every later image reuses them and adds only metadata.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gateway", "users", "products", "orders", "notifications")
DEFAULT_PREFIX = "dev.local/shop"
DEFAULT_TAG = "0.1.0"
DEFAULT_BASE = "python:3.12-slim-bookworm"
STAND_IN_BASE = "localhost/debian-python:bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def image_name(service: str, prefix: str = DEFAULT_PREFIX, tag: str = DEFAULT_TAG) -> str:
    return f"{prefix}/{service}:{tag}"


def builder() -> list[str]:
    for tool in ("buildah", "podman", "docker"):
        if shutil.which(tool):
            if tool == "buildah":
                return ["buildah", *shlex.split(os.environ.get("BUILDAH_OPTS", ""))]
            return [tool]
    raise SystemExit("images: no buildah, podman or docker on PATH")


def build_command(
    tool: list[str], service: str, image: str, base: str, context: Path = ROOT
) -> list[str]:
    common = [
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        f"SERVICE={service}",
        "--build-arg",
        f"VERSION={image.rsplit(':', 1)[1]}",
        "--build-arg",
        f"REVISION={_git_revision()}",
        "--build-arg",
        f"CREATED={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
        "-t",
        image,
        "-f",
        str(context / "Dockerfile"),
        str(context),
    ]
    if tool[0] != "buildah":
        return [*tool, "build", *common]
    # Daemonless: chroot isolation; RUN steps reach the package index through the host network
    # and trust the host's CA bundle (mounted for the build only, never in the image).
    mounts = ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.exists() else []
    return [
        *tool,
        "bud",
        "--layers",
        "--isolation",
        "chroot",
        "--network",
        "host",
        *mounts,
        *common,
    ]


def build(services: list[str], prefix: str, tag: str, base: str) -> dict[str, float]:
    tool = builder()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="shop-context-") as context:
        snapshot(Path(context))
        for service in services:
            started = time.monotonic()
            image = image_name(service, prefix, tag)
            print(f"images: building {image}", flush=True)
            subprocess.run(build_command(tool, service, image, base, Path(context)), check=True)
            seconds[service] = time.monotonic() - started
    return seconds


def snapshot(context: Path) -> None:
    """Copy the work tree (tracked and untracked, minus .gitignore'd files) once, so edits made
    while the images build cannot give them different layers."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = context / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def ensure_base(image: str = STAND_IN_BASE) -> None:
    """The stand-in base: Debian's minimal rootfs with python3, imported as an image."""
    store = inspector()
    if subprocess.run([*store, "image", "exists", image]).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="shop-rootfs-") as rootfs:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                rootfs,
                _debian_mirror(),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([*store, "import", "-", image], stdin=tar.stdout, check=True)
        if tar.wait() != 0:
            raise SystemExit("images: tar of the base rootfs failed")


def inspector() -> list[str]:
    """podman on buildah's storage (same options), else docker: they report image sizes."""
    if shutil.which("podman"):
        return ["podman", *shlex.split(os.environ.get("BUILDAH_OPTS", ""))]
    if shutil.which("docker"):
        return ["docker"]
    raise SystemExit("images: podman or docker is needed to inspect images")


def _debian_mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        if line.startswith("deb "):
            return line.split()[1]
    raise SystemExit("images: no Debian mirror in the apt configuration")


def sizes(images: list[str], base: str) -> dict[str, int]:
    """Bytes each image adds on top of its base (what a node pulls beyond the base). The five
    images share these bytes: together they add about as much as one."""
    base_size = _size(base)
    return {image: _size(image) - base_size for image in images}


def _size(image: str) -> int:
    out = subprocess.run(
        [*inspector(), "image", "inspect", "--format", "{{.Size}}", image],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip())


def _git_revision() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="images", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "sizes"):
        cmd = sub.add_parser(name)
        cmd.add_argument("services", nargs="*", default=list(SERVICES))
        cmd.add_argument("--prefix", default=DEFAULT_PREFIX)
        cmd.add_argument("--tag", default=DEFAULT_TAG)
        cmd.add_argument("--base", default=os.environ.get("PYTHON_IMAGE", DEFAULT_BASE))
        cmd.add_argument("--push", action="store_true", help="push each image after building")
    sub.add_parser("base")
    args = parser.parse_args(argv)
    if args.command == "base":
        ensure_base()
        print(STAND_IN_BASE)
        return 0
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services {sorted(unknown)}; choose from {', '.join(SERVICES)}")
    images = [image_name(s, args.prefix, args.tag) for s in args.services]
    if args.command == "build":
        for service, seconds in build(args.services, args.prefix, args.tag, args.base).items():
            print(f"images: {service} built in {seconds:.1f}s")
        if args.push:
            for image in images:
                subprocess.run([*builder(), "push", image], check=True)
    for image, added in sizes(images, args.base).items():
        print(f"images: {image} adds {added / 1e6:.1f} MB to {args.base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
