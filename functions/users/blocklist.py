"""The common passwords new ones are checked against, read from this package's data.

The list and its licence: common-passwords.LICENSE, next to it. It is read at the first
sign-up, not at start-up: a scale-to-zero function should not pay for it in its cold start or
its idle memory.
"""

from __future__ import annotations

import functools
import gzip
from importlib.resources import files

RESOURCE = "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """About 20,000 lowercased entries, read once."""
    raw = files("functions.users").joinpath(RESOURCE).read_bytes()
    return frozenset(gzip.decompress(raw).decode().split())


class CommonPasswords:
    """`common_passwords()` as a container that reads the list at its first membership test."""

    def __contains__(self, password: object) -> bool:
        return password in common_passwords()
