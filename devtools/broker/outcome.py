"""What one delivery attempt came to, judged as Eventing's dispatcher judges it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from shop.events.ce import CloudEvent

RETRIED = frozenset({404, 408, 409, 429})
ASKS_TO_WAIT = frozenset({429, 503})  # the answers whose Retry-After Eventing reads


@dataclass(frozen=True)
class Outcome:
    status: int  # 0: no response at all
    body: bytes = b""
    reply: CloudEvent | None = None
    retry_after: float = 0.0  # seconds a 429/503 asked to wait

    @property
    def done(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRIED or self.status >= 500


def retry_after(header: str | None) -> float:
    """Seconds a `Retry-After` asks for: delay-seconds or an HTTP-date; 0 if absent or invalid."""
    if not header:
        return 0.0
    text = header.strip()
    try:
        return float(int(text))  # Go's strconv.ParseInt, as Eventing reads it
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0.0
    return when.timestamp() - time.time()
