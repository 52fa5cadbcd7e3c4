"""Issue 10, item 2: a security control that errors never fails silently, nor open."""

from __future__ import annotations

import httpx

from devtools.served import Served
from tests.security.users import client, log_in, sign_up
from tests.support.processes import PrivateRedis

METRIC = 'security_control_errors_total{control="login_throttle",service="users"}'


def errors_counted(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(METRIC):
            return float(line.split()[-1])
    return 0.0


def test_with_redis_gone_the_throttle_still_holds_and_says_so_once(
    private_redis: PrivateRedis,
) -> None:
    served = Served("users", {"REDIS_URL": private_redis.url, "LOG_LEVEL": "WARNING"})
    try:
        served.wait_ready(60)
        with client(served.url, "127.0.0.5") as http:
            assert sign_up(http, "carol").status_code == 201
            assert errors_counted(served.url) == 0
            private_redis.stop()
            answers = [log_in(http, "carol", f"wrong {n}").status_code for n in range(12)]
            assert set(answers[:5]) == {401}
            assert set(answers[5:]) == {429}  # counted in memory: not open
            assert log_in(http, "carol").status_code == 429
        assert errors_counted(served.url) >= 1
        assert served.output().count("security control login_throttle is failing") == 1
    finally:
        served.stop()
