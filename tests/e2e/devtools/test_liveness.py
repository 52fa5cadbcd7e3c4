"""`shop up` restarts a hung instance as a kubelet would: its liveness probe fails, it is killed,
and the supervisor starts it again."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest

from tests.e2e.storefront.harness import LocalShop
from tests.support.polling import eventually
from tests.support.services import redis_url

pytestmark = pytest.mark.e2e


def pid_of(shop: LocalShop, service: str) -> int:
    path = shop.data_dir / "shop-up.json"
    if not path.exists():  # written once every instance is ready
        return 0
    state = json.loads(path.read_text())
    (pid,) = [i["pid"] for i in state["instances"] if i["service"] == service]
    return int(pid)


def test_a_sigstopped_instance_is_killed_and_restarted_and_serves_again() -> None:
    shop = LocalShop(redis_url())
    stopped = 0
    try:
        shop.wait_ready()
        stopped = eventually(lambda: pid_of(shop, "products"), within=30)
        os.kill(stopped, signal.SIGSTOP)  # hung: the process lives, but answers nothing
        try:
            eventually(lambda: pid_of(shop, "products") not in {0, stopped}, within=45)
        except AssertionError:
            raise AssertionError(shop.log()[-3000:]) from None
        with pytest.raises(ProcessLookupError):
            os.kill(stopped, 0)  # the hung process is gone, not left behind
        stopped = 0
        eventually(lambda: httpx.get(f"{shop.url}/products", timeout=2).status_code == 200, 60)
        assert "failed 3 liveness probes in a row" in shop.log()
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        shop.stop()
