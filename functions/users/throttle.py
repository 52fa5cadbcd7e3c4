"""Failed logins, throttled so an attacker can slow guessing down but cannot lock the owner out
(OWASP's authentication cheat sheet: count per account *and* client, back off, don't lock):

- per account and client pair: `per_pair` failures in `window` hold that pair back;
- per client: `per_client` failures in `window` over all accounts hold the client back
  (password spraying from one address);
- per account, the slower backoff: while `per_account` failures from anywhere are less than
  `window` apart, the account is under attack, and a client that has failed on it gets no second
  try until its own window ends (one guess per address per window instead of `per_pair`). A
  client with no failures on the account, the owner's, is never held back by it, and one that
  slipped waits for its own window, never for the attack to end: rotating addresses buys an
  attacker one guess per address, not the owner's account.

The counts live behind the `Counters` port (shared in Redis, see `functions.users.counters`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shop.runtime.errors import TooManyRequests

PREFIX = "{shop}:login"
REFUSED = "Too many failed logins; try again later."


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    ms_left: int  # until the count expires; 0 when there is none


class Counters(Protocol):
    async def read(self, keys: Sequence[str]) -> list[Count]: ...

    async def bump(self, fixed: Sequence[str], sliding: Sequence[str], window_ms: int) -> None:
        """+1 on every key; a `fixed` key expires `window_ms` after its first bump, a `sliding`
        one `window_ms` after its latest."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    per_pair: int = 5
    per_client: int = 30
    per_account: int = 5
    window: int = 300  # seconds


def client_network(address: str) -> str:
    """What counts as one client: an IPv4 address, or an IPv6 address's /64 (one subscriber
    gets a whole /64, so per-address limits would not hold them)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"{PREFIX}:{kind}:{digest}"


def keys_of(username: str, client: str) -> tuple[str, str, str]:
    """The pair's, the client's and the account's counter keys."""
    return key("pair", username, client), key("client", client), key("account", username)


def refusal(pair: Count, client: Count, account: Count, limits: Limits) -> int | None:
    """Seconds to wait before this pair may try again, or None: it may try now."""
    if client.value >= limits.per_client:
        return _seconds(client.ms_left)
    if pair.value >= limits.per_pair:
        return _seconds(pair.ms_left)
    if account.value >= limits.per_account and pair.value > 0:
        return _seconds(pair.ms_left)
    return None


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


class LoginThrottle:
    def __init__(self, counters: Counters, limits: Limits) -> None:
        self.counters = counters
        self.limits = limits

    async def check(self, username: str, client: str) -> None:
        """`TooManyRequests` while this username and client pair is held back."""
        pair, by_client, account = await self.counters.read(keys_of(username, client))
        wait = refusal(pair, by_client, account, self.limits)
        if wait is not None:
            raise TooManyRequests(REFUSED, retry_after=wait)

    async def failed(self, username: str, client: str) -> None:
        pair, by_client, account = keys_of(username, client)
        await self.counters.bump([pair, by_client], [account], self.limits.window * 1000)

    async def succeeded(self, username: str, client: str) -> None:
        """The owner's own slips are forgiven; the account's backoff runs on."""
        await self.counters.clear([keys_of(username, client)[0]])
