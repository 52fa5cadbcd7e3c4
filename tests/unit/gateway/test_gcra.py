from __future__ import annotations

from gateway.gcra import Decision, Limit, LocalGcra, SharedBuckets


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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class GlobalTat:
    """The Lua script's arithmetic, in memory: pushed admissions always move the TAT on."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tat = 0.0

    def push(self, limit: Limit, count: int) -> float:
        now = self.clock.now * 1000
        self.tat = max(self.tat, now) + count * limit.interval_ms
        return self.tat - now


LIMIT = Limit("default", per_second=10, burst=20)  # quota 2 at a share of 0.1


def test_a_replica_admits_its_quota_alone_then_asks_redis() -> None:
    buckets = SharedBuckets(0.1, Clock())

    verdicts = [buckets.admit("ip:1", LIMIT) for _ in range(3)]

    assert [d.allowed if d else None for d in verdicts] == [True, True, None]
    assert [d.remaining for d in verdicts[:2] if d] == [19, 18]
    assert buckets.pushed("ip:1") == 2
    assert buckets.admit("ip:1", LIMIT) is None  # the pushed two are still on their way


def test_an_empty_local_bucket_refuses_without_asking() -> None:
    clock = Clock()
    buckets = SharedBuckets(0.1, clock)
    buckets.admit("ip:1", LIMIT)
    buckets.reconcile("ip:1", buckets.pushed("ip:1"), backlog_ms=2000)  # others used the burst

    refused = buckets.admit("ip:1", LIMIT)
    clock.now = 0.1
    again = buckets.admit("ip:1", LIMIT)

    assert refused is not None
    assert not refused.allowed
    assert 0 < refused.retry_after <= 0.1
    assert again is not None
    assert again.allowed


def test_reconciling_follows_the_global_tat_plus_what_redis_has_not_seen() -> None:
    clock = Clock()
    buckets = SharedBuckets(0.5, clock)  # quota 10
    for _ in range(3):
        buckets.admit("ip:1", LIMIT)
    drained = buckets.drain()
    buckets.admit("ip:1", LIMIT)  # admitted while the push is under way

    buckets.reconcile("ip:1", drained[0][1], backlog_ms=500.0)

    bucket = buckets.buckets["ip:1"]
    assert [(b.key, n) for b, n in drained] == [("ip:1", 3)]
    assert (bucket.pending, bucket.flying) == (1, 0)
    assert bucket.tat == 500.0 + LIMIT.interval_ms


def test_a_failed_push_is_kept_for_the_next_one_up_to_a_burst() -> None:
    buckets = SharedBuckets(1.0, Clock())  # quota 20
    for _ in range(5):
        buckets.admit("ip:1", LIMIT)
    ((bucket, count),) = buckets.drain()

    buckets.unpushed("ip:1", count)
    for _ in range(30):
        buckets.admit("ip:1", LIMIT, local_only=True)

    assert (bucket.pending, bucket.flying) == (LIMIT.burst, 0)


def test_a_sync_forgets_buckets_that_are_full_again_and_pushed() -> None:
    clock = Clock()
    buckets = SharedBuckets(0.1, clock)
    buckets.admit("ip:1", LIMIT)
    ((_, count),) = buckets.drain()
    buckets.reconcile("ip:1", count, backlog_ms=100.0)
    clock.now = 1.0

    assert buckets.drain() == []
    assert buckets.buckets == {}


def test_no_quota_means_every_admission_asks_redis() -> None:
    buckets = SharedBuckets(0.1, Clock())
    small = Limit("default", per_second=1, burst=6)

    assert buckets.quota(small) == 0
    assert buckets.admit("ip:1", small) is None


def simulate(replicas: int, seconds: float, sync: float, share: float) -> tuple[int, float]:
    """Replicas hammering one key (each a request per ms, in turn), each pushing every `sync`
    s, and asking the global TAT itself when its quota is spent: (admitted, allowance)."""
    clock = Clock()
    shared = GlobalTat(clock)
    nodes = [SharedBuckets(share, clock) for _ in range(replicas)]
    admitted = 0
    step = 0.001
    next_sync = sync
    while clock.now < seconds:
        for node in nodes:
            decision = node.admit("ip:1", LIMIT)
            if decision is None:  # the exact check, with the quota pushed along
                charged = node.pushed("ip:1")
                now = clock.now * 1000
                tat = max(shared.tat, now) + charged * LIMIT.interval_ms
                allowed = tat + LIMIT.interval_ms - now <= LIMIT.interval_ms * LIMIT.burst
                shared.tat = tat + LIMIT.interval_ms if allowed else tat
                node.reconcile("ip:1", charged, shared.tat - now)
                admitted += allowed
            else:
                admitted += decision.allowed
        clock.now += step
        if clock.now >= next_sync:
            next_sync += sync
            for node in nodes:
                for bucket, count in node.drain():
                    node.reconcile(bucket.key, count, shared.push(bucket.limit, count))
    return admitted, LIMIT.per_second * seconds + LIMIT.burst


def test_replicas_together_overshoot_by_at_most_their_quotas() -> None:
    for replicas in (2, 3):
        admitted, allowance = simulate(replicas, seconds=5, sync=0.2, share=0.25)
        quota = SharedBuckets(0.25).quota(LIMIT)

        assert allowance - 1 <= admitted <= allowance + (replicas - 1) * quota


def test_over_a_long_run_the_rate_is_the_configured_one() -> None:
    admitted, allowance = simulate(2, seconds=60, sync=0.25, share=0.5)

    assert abs(admitted - allowance) <= SharedBuckets(0.5).quota(LIMIT)
