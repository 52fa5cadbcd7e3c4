from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from devtools.broker.manifests import Delivery
from devtools.broker.outcome import retry_after


def test_retry_after_is_ignored_without_retry_after_max_as_in_eventing_alpha() -> None:
    delivery = Delivery(retry=3, backoff_delay=0.2)
    assert delivery.wait_before(0, retry_after=30) == pytest.approx(0.2)


def test_retry_after_is_capped_by_retry_after_max_and_the_longer_wait_wins() -> None:
    delivery = Delivery.parse(
        {"retry": 3, "backoffDelay": "PT1S", "retryAfterMax": "PT10S"}, "test"
    )
    assert delivery is not None
    assert delivery.wait_before(0, retry_after=5) == pytest.approx(5)  # longer than 1 s
    assert delivery.wait_before(0, retry_after=600) == pytest.approx(10)  # capped
    assert delivery.wait_before(3, retry_after=5) == pytest.approx(8)  # backoff 8 s is longer
    assert delivery.wait_before(0, retry_after=0) == pytest.approx(1)


def test_a_zero_retry_after_max_turns_retry_after_off() -> None:
    delivery = Delivery.parse({"backoffDelay": "PT1S", "retryAfterMax": "PT0S"}, "test")
    assert delivery is not None
    assert delivery.wait_before(0, retry_after=5) == pytest.approx(1)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 0), ("", 0), ("7", 7), ("soon", 0), ("-3", -3), ("--3", 0), ("1.5", 0)],
)
def test_retry_after_reads_delay_seconds(header: str | None, seconds: float) -> None:
    assert retry_after(header) == seconds


def test_retry_after_reads_an_http_date_as_the_time_until_it() -> None:
    assert 50 < retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60
