from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType

from gateway.balancer import Balancer, NoRegistry
from gateway.breaker import CircuitBreaker
from shop.registry.store import Instance


class Directory:
    def __init__(self) -> None:
        self.version = 1
        self.stale = False
        self.instances: dict[str, tuple[Instance, ...]] = {}

    def set(self, service: str, *ids: str, healthy: bool = True) -> None:
        self.instances[service] = tuple(
            Instance(instance_id=i, service=service, address=f"http://{i}:80", healthy=healthy)
            for i in ids
        )
        self.version += 1

    def healthy(self, service: str) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances.get(service, ()) if i.healthy)

    def all(self) -> Mapping[str, tuple[Instance, ...]]:
        return MappingProxyType(self.instances)


def balancer(strategy: str, directory: Directory) -> Balancer:
    return Balancer(
        directory,
        lambda _: CircuitBreaker(failures=1, open_for=60),
        strategy=strategy,
        rng=random.Random(7),
    )


def test_round_robin_takes_turns() -> None:
    directory = Directory()
    directory.set("products", "a", "b", "c")
    b = balancer("round_robin", directory)

    picked = [b.pick("products") for _ in range(6)]

    assert [u.instance.instance_id for u in picked if u] == ["a", "b", "c", "a", "b", "c"]


def test_least_outstanding_prefers_the_idle_instance_and_rotates_among_ties() -> None:
    directory = Directory()
    directory.set("products", "a", "b", "c")
    b = balancer("least_outstanding", directory)
    pool = b.pool("products")
    pool[0].outstanding = 5
    pool[1].outstanding = 5

    assert all(b.pick("products") is pool[2] for _ in range(3))
    pool[2].outstanding = 5
    ties = [u.instance.instance_id for u in (b.pick("products") for _ in range(4)) if u]
    assert ties == ["a", "b", "c", "a"]  # in turn: the first idle one from a start that rotates


def test_two_choices_never_picks_the_busiest_of_two() -> None:
    directory = Directory()
    directory.set("products", "a", "b")
    b = balancer("p2c", directory)
    pool = b.pool("products")
    pool[0].outstanding = 3

    assert all(b.pick("products") is pool[1] for _ in range(10))


def test_open_breakers_and_tried_instances_are_skipped() -> None:
    directory = Directory()
    directory.set("products", "a", "b", "c")
    for strategy in ("round_robin", "least_outstanding", "p2c"):
        b = balancer(strategy, directory)
        a, second, third = b.pool("products")
        a.breaker.record(False)  # opens: failures=1

        chosen = b.pick("products", exclude=[second])

        assert chosen is third, strategy
        assert b.pick("products", exclude=[second, third]) is None


def test_breaker_state_survives_a_view_refresh_but_not_a_departure() -> None:
    directory = Directory()
    directory.set("products", "a", "b")
    b = balancer("round_robin", directory)
    first = b.pool("products")[0]
    first.breaker.record(False)

    directory.set("products", "a", "b", "c")
    assert b.pool("products")[0] is first
    directory.set("products", "b", "c")
    b.pool("products")
    directory.set("products", "a", "b", "c")

    assert b.pool("products")[0] is not first
    assert b.pool("products")[0].breaker.allow()


def test_unhealthy_and_unaddressed_instances_are_not_candidates() -> None:
    directory = Directory()
    directory.set("products", "a", healthy=False)
    b = balancer("least_outstanding", directory)

    assert b.pool("products") == []
    assert b.pick("products") is None
    assert b.pick("unknown") is None


def test_retry_after_is_the_wait_for_the_first_probe() -> None:
    directory = Directory()
    directory.set("products", "a")
    b = balancer("round_robin", directory)
    b.pool("products")[0].breaker.record(False)

    assert 59 < b.retry_after("products") <= 60


def test_departed_instances_are_reported_once() -> None:
    directory = Directory()
    directory.set("products", "a", "b")
    gone: list[str] = []
    b = Balancer(
        directory,
        lambda _: CircuitBreaker(),
        on_departed=lambda u: gone.append(u.instance.instance_id),
    )
    b.pool("products")

    directory.set("products", "b")
    b.pool("products")
    b.pool("products")

    assert gone == ["a"]


def test_retry_after_is_the_shortest_wait_among_open_breakers() -> None:
    clock = [1000.0]
    directory = Directory()
    directory.set("products", "a", "b")
    b = Balancer(
        directory, lambda _: CircuitBreaker(failures=1, open_for=60, clock=lambda: clock[0])
    )
    first, second = b.pool("products")
    first.breaker.record(False)
    clock[0] += 30
    second.breaker.record(False)

    assert b.retry_after("products") == 30


def test_a_half_open_instance_lets_one_probe_through_pick_at_a_time() -> None:
    clock = [1000.0]
    directory = Directory()
    directory.set("products", "a")
    b = Balancer(
        directory, lambda _: CircuitBreaker(failures=1, open_for=5, clock=lambda: clock[0])
    )
    b.pool("products")[0].breaker.record(False)
    clock[0] += 5

    assert b.pick("products") is not None  # the probe
    assert b.pick("products") is None  # the probe's verdict is not in yet


def test_the_pool_is_computed_once_per_view_version() -> None:
    directory = Directory()
    directory.set("products", "a", "b")
    b = balancer("round_robin", directory)

    first = b.pool("products")
    assert b.pool("products") is first
    directory.set("products", "a", "b")
    assert b.pool("products") is not first


def test_two_choices_draws_from_the_given_random_source_or_its_own() -> None:
    directory = Directory()
    directory.set("products", "a", "b", "c", "d")

    def picks(made: Balancer) -> list[str]:
        return [u.instance.instance_id for u in (made.pick("products") for _ in range(30)) if u]

    seeded = [Balancer(directory, lambda _: CircuitBreaker(), strategy="p2c", rng=random.Random(3))]
    seeded.append(
        Balancer(directory, lambda _: CircuitBreaker(), strategy="p2c", rng=random.Random(3))
    )
    assert picks(seeded[0]) == picks(seeded[1])
    assert len(picks(Balancer(directory, lambda _: CircuitBreaker(), strategy="p2c"))) == 30


def test_without_a_registry_nothing_is_picked_and_nothing_is_stale() -> None:
    b = Balancer(NoRegistry(), lambda _: CircuitBreaker())

    assert b.pick("products") is None
    assert NoRegistry().all() == {}
    assert NoRegistry.stale is False
