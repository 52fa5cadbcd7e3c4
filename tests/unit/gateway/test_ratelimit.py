from __future__ import annotations

from gateway.ratelimit import Decision, Limit, LocalGcra


def test_gcra_allows_the_burst_then_one_per_interval() -> None:
    now = [0.0]
    gcra = LocalGcra(clock=lambda: now[0])
    limit = Limit("default", per_second=2, burst=3)

    first = [gcra.check("ip:1", limit) for _ in range(4)]
    now[0] += 0.5
    later = gcra.check("ip:1", limit)

    assert [d.allowed for d in first] == [True, True, True, False]
    assert [d.remaining for d in first[:3]] == [2, 1, 0]
    assert 0 < first[3].retry_after <= 0.5
    assert later.allowed


def test_keys_are_limited_separately() -> None:
    gcra = LocalGcra(clock=lambda: 0.0)
    limit = Limit("default", per_second=1, burst=1)

    assert gcra.check("ip:1", limit).allowed
    assert not gcra.check("ip:1", limit).allowed
    assert gcra.check("ip:2", limit).allowed


def test_the_memory_fallback_forgets_idle_keys_when_full() -> None:
    now = [0.0]
    gcra = LocalGcra(clock=lambda: now[0], max_keys=3)
    limit = Limit("default", per_second=10, burst=5)
    for index in range(3):
        gcra.check(f"ip:{index}", limit)
    now[0] += 10

    gcra.check("ip:new", limit)

    assert set(gcra.tats) == {"ip:new"}


def test_headers_follow_the_ratelimit_fields() -> None:
    decision = Decision(False, 10, -1, 1.2, 2.1)

    assert dict(decision.headers()) == {
        b"ratelimit-limit": b"10",
        b"ratelimit-remaining": b"0",
        b"ratelimit-reset": b"3",
    }


def test_a_key_whose_bucket_is_just_full_again_is_forgotten_too() -> None:
    now = [0.0]
    gcra = LocalGcra(clock=lambda: now[0], max_keys=2)
    limit = Limit("default", per_second=10, burst=5)
    gcra.check("ip:old", limit)  # its bucket is full again at 0.1 s
    now[0] = 0.05
    gcra.check("ip:busy", limit)
    now[0] = 0.1

    gcra.check("ip:new", limit)

    assert set(gcra.tats) == {"ip:busy", "ip:new"}
