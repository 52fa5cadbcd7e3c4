"""Secrets the local mode makes for itself: generated once in the data directory, kept private
(0600), and shared by every instance that starts from it, even when several start together."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def local_secret(data_dir: str, name: str, generate: Callable[[], bytes]) -> bytes:
    path = Path(data_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate())
        try:
            os.link(temporary, path)  # fails if another instance won the race; keep theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_bytes()
