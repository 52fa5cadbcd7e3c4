"""`shop.runtime.service` imports redis-py without its OpenTelemetry metrics hook, SDK and API
(a `sys.modules` block, since redis-py has no switch). Pinned: this fails when redis-py stops
importing the SDK (drop the block) or when the block breaks the client. Fresh interpreters:
module imports are what is tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import run_python
from tests.support.services import redis_url

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[4]
REDIS = """
import asyncio, json, sys
from shop.runtime.service import redis_client
client = redis_client(%(url)r)
blocked = "opentelemetry.sdk.metrics" in sys.modules
otel = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
pong = asyncio.run(client.ping())
leftover = [m for m, module in sys.modules.items() if module is None and "opentelemetry" in m]
import redis.asyncio  # already imported: a no-op
from redis.observability import providers
from redis.observability import metrics
print(json.dumps({"sdk_metrics": blocked, "otel": otel, "pong": pong, "leftover": leftover,
                  "redis_sees_otel": providers.OTEL_AVAILABLE or metrics.OTEL_AVAILABLE}))
"""

PLAIN_REDIS = """
import json, sys
import redis.asyncio
print(json.dumps({"sdk_metrics": "opentelemetry.sdk.metrics" in sys.modules,
                  "api_metrics": "opentelemetry.metrics" in sys.modules}))
"""


def test_redis_is_imported_without_the_otel_metrics_sdk_and_still_works() -> None:
    plain = run_python(PLAIN_REDIS)
    found = run_python(REDIS % {"url": redis_url()})

    # Still needed: redis-py imports the OTel metrics SDK and API whenever they are installed.
    assert plain == {"sdk_metrics": True, "api_metrics": True}
    assert found == {
        "sdk_metrics": False,
        "otel": [],  # no OpenTelemetry module at all
        "pong": True,
        "leftover": [],
        "redis_sees_otel": False,
    }
