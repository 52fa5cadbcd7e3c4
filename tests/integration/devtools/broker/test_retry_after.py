"""Retry-After, as Eventing's dispatcher reads it, on a compressed clock (BROKER_TIME_SCALE).

pkg/kncloudevents/retries.go: only when `retryAfterMax` is set, a 429 or 503's Retry-After
(seconds or an HTTP-date) is capped by it, and the longer of it and the backoff is waited.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import new_event, to_binary
from tests.support.event_senders import Senders
from tests.support.recorder import Recorder, Reply

DATA: dict[str, Path] = {}  # each broker's data directory, where its local issuer keeps keys

pytestmark = pytest.mark.e2e
SCALE = 0.1  # every wait of the broker is a tenth of what the manifests and Retry-After say

MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: capped}
spec:
  broker: default
  filter: {attributes: {type: capped.v1}}
  subscriber: {uri: /capped}
  delivery:
    retry: 2
    backoffPolicy: exponential
    backoffDelay: PT0.01S
    retryAfterMax: PT2S
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: plain}
spec:
  broker: default
  filter: {attributes: {type: plain.v1}}
  subscriber: {uri: /plain}
  delivery:
    retry: 2
    backoffPolicy: exponential
    backoffDelay: PT0.01S
"""


@pytest.fixture(scope="module")
def subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, subscriber: Recorder) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("retry-after")
    (tmp_path / "eventing.yaml").write_text(
        MANIFESTS.replace("{uri: /", "{uri: " + subscriber.url + "/")
    )
    served = Served(
        "broker",
        {
            "BROKER_MANIFESTS": str(tmp_path),
            "REDIS_URL": "",
            "SHOP_DATA_DIR": str(tmp_path),
            "BROKER_TIME_SCALE": str(SCALE),
        },
    )
    DATA[served.url] = tmp_path
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def _gap_after(broker: Served, subscriber: Recorder, kind: str, first: Reply) -> float:
    """Publish one `kind` event; the subscriber answers `first`, then 202; the gap between."""
    subscriber.requests.clear()
    subscriber.script = [first, Reply(202)]
    headers, body = to_binary(new_event(f"{kind}.v1", "/test", {}))
    headers |= Senders(DATA[broker.url]).to_broker()  # a producer's SinkBinding token
    assert httpx.post(f"{broker.url}/default/default", content=body, headers=headers).is_success
    one, two = subscriber.wait_for(f"/{kind}", 2)
    return two.at - one.at


def test_a_503_retry_after_is_waited_when_retry_after_max_is_set(
    broker: Served, subscriber: Recorder
) -> None:
    gap = _gap_after(broker, subscriber, "capped", Reply(503, headers={"retry-after": "1"}))
    assert gap >= 1 * SCALE  # the backoff alone would be 0.01 s


def test_a_retry_after_longer_than_retry_after_max_is_capped_by_it(
    broker: Served, subscriber: Recorder
) -> None:
    # an hour asked (360 s here): the retry comes after the 2 s cap, within wait_for's 15 s
    gap = _gap_after(broker, subscriber, "capped", Reply(429, headers={"retry-after": "3600"}))
    assert gap >= 2 * SCALE


def test_a_retry_after_as_an_http_date_is_honoured(broker: Served, subscriber: Recorder) -> None:
    import time
    from email.utils import formatdate

    when = formatdate(time.time() + 60, usegmt=True)  # a minute away: capped at 2 s
    gap = _gap_after(broker, subscriber, "capped", Reply(503, headers={"retry-after": when}))
    assert gap >= 2 * SCALE


def test_without_retry_after_max_retry_after_is_ignored_as_in_eventing_alpha(
    broker: Served, subscriber: Recorder
) -> None:
    # an hour asked; were it honoured, the retry would come after 360 s and wait_for would fail
    _gap_after(broker, subscriber, "plain", Reply(503, headers={"retry-after": "3600"}))
