"""The common passwords new ones are checked against, read from this package's data.

The list and its licence: common-passwords.LICENSE, next to it.
"""

from __future__ import annotations

import gzip
from importlib.resources import files

RESOURCE = "common-passwords.txt.gz"


def common_passwords() -> frozenset[str]:
    """About 20,000 lowercased entries; read once by the composition root."""
    raw = files("functions.users").joinpath(RESOURCE).read_bytes()
    return frozenset(gzip.decompress(raw).decode().split())
