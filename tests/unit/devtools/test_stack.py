from __future__ import annotations

import pytest

from devtools.stack import parse_replicas


def test_every_service_runs_once_by_default() -> None:
    counts = parse_replicas([])
    assert set(counts) >= {"gateway", "users", "products", "orders", "notifications"}
    assert set(counts.values()) == {1}


def test_replicas_raise_the_count_of_one_service() -> None:
    counts = parse_replicas(["products=3", "orders=2"])
    assert counts["products"] == 3
    assert counts["orders"] == 2
    assert counts["users"] == 1


@pytest.mark.parametrize("bad", ["products", "products=0", "products=x", "nope=2", "products=99"])
def test_a_bad_replicas_option_stops_with_a_message(bad: str) -> None:
    with pytest.raises(SystemExit, match="--replicas"):
        parse_replicas([bad])


def test_shutdown_stops_the_gateway_then_the_functions_then_the_broker() -> None:
    from pathlib import Path

    from devtools.stack import Instance, stop_stages

    names = ["broker", "users", "products", "orders", "orders", "notifications", "gateway"]
    instances = [Instance(name, i, 8000 + i, Path("x.log")) for i, name in enumerate(names)]
    stages = [sorted({i.service for i in stage}) for stage in stop_stages(instances)]
    assert stages == [
        ["gateway"],
        ["notifications", "orders", "products", "users"],
        ["broker"],
    ]
