"""Which new passwords are refused: NIST SP 800-63B's rules. Pure: no I/O here.

At least 12 characters (the contract's minimum) and any character allowed, no composition rules;
refused when the password, or its core without leading and trailing digits and symbols, is a
common password, is one repeated unit (`aaaaaaaaaaaa`, `abcabcabcabc`), runs in sequence
(`abcdefghijkl`, `987654321098`), has fewer than 5 different characters, or is built from the
context: the username, the e-mail address's local part or the service's name.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Container
from dataclasses import dataclass

MIN_LENGTH = 12
MIN_DISTINCT = 5
SERVICE_WORDS = ("shop",)
_AFFIXES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    common: Container[str]

    def weakness(self, password: str, *, username: str, email: str) -> str | None:
        """Why `password` is refused for this account, or None when it is accepted."""
        lowered = password.lower()
        core = _AFFIXES.sub("", lowered)
        if len(password) < MIN_LENGTH:
            return f"The password must be at least {MIN_LENGTH} characters."
        if lowered in self.common or (len(core) >= 4 and core in self.common):
            return "The password is a commonly used one."
        if re.fullmatch(r"(.+?)\1+", lowered):
            return "The password repeats itself."
        if _sequential(lowered):
            return "The password is a sequence of characters."
        if len(set(lowered)) < MIN_DISTINCT:
            return f"The password needs at least {MIN_DISTINCT} different characters."
        local = email.lower().partition("@")[0]
        context = [w for w in (username.lower(), local, *SERVICE_WORDS) if len(w) >= 3]
        if core in context or any(len(w) >= 4 and w in lowered for w in context[:2]):
            return "The password must not be built from the username, e-mail or service name."
        return None


def _sequential(text: str) -> bool:
    """Every step is the same +1 or -1 (digits wrap: ...8901...)."""
    steps = set()
    for a, b in itertools.pairwise(text):
        step = ord(b) - ord(a)
        if a.isdigit() and b.isdigit():
            step = (int(b) - int(a)) % 10
            step = -1 if step == 9 else step
        steps.add(step)
    return len(steps) == 1 and steps <= {1, -1}
