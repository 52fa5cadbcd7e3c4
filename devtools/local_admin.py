"""The local stack's admin account: `SHOP_ADMIN_USERNAME`/`SHOP_ADMIN_PASSWORD` when set, else a
password generated once and kept (mode 0600) in the data directory, so `shop up` can print it."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

FILE = "admin-credentials.json"


def local_admin(data_dir: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    username = environ.get("SHOP_ADMIN_USERNAME", "").strip()
    password = environ.get("SHOP_ADMIN_PASSWORD", "").strip()
    if username and password:
        return username, password
    path = data_dir / FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        created = {"username": "admin", "password": secrets.token_urlsafe(18)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(created, handle)
    stored = json.loads(path.read_text())
    return str(stored["username"]), str(stored["password"])


def admin_env(data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    username, password = local_admin(data_dir, environ)
    return {"SHOP_ADMIN_USERNAME": username, "SHOP_ADMIN_PASSWORD": password}
