"""Lag and the stalled-partition watchdog (issue 9 item 11a), with a controlled clock."""

from shared.runner.failures import Backoff, ConsecutiveFailures
from shared.runner.progress import GroupProgress, PartitionProgress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lag_is_end_minus_committed():
    progress = PartitionProgress("extract", stall_after_s=60, clock=Clock())
    lags = progress.observe({("news.detected", 0): 10, ("news.detected", 1): None}, {("news.detected", 0): 4})
    assert lags == {("news.detected", 0): 6}


def test_a_partition_with_lag_that_stops_committing_is_stalled():
    """The orphaned partitions after kill -9: assigned, lag, nobody fetching them."""
    clock = Clock()
    progress = PartitionProgress("extract", stall_after_s=60, clock=clock)
    moving, stuck = ("news.detected", 0), ("news.detected", 1)
    for step in range(7):
        clock.now = step * 10.0
        lags = progress.observe({moving: 100 + step, stuck: 50}, {moving: 90 + step, stuck: 20})
    assert progress.stalled(lags) == ["news.detected[1] lag 30, no commit for 60s"]


def test_no_lag_or_waiting_on_purpose_is_not_a_stall():
    clock = Clock()
    progress = PartitionProgress("index", stall_after_s=60, clock=clock)
    idle, held = ("news.enriched", 0), ("news.enriched", 1)
    for step in range(10):
        clock.now = step * 10.0
        lags = progress.observe({idle: 5, held: 9}, {idle: 5, held: 1}, waiting=True)
    assert progress.stalled(lags) == []
    clock.now = 100.0
    lags = progress.observe({idle: 5, held: 9}, {idle: 5, held: 1})  # the wait is over: the clock starts now
    assert progress.stalled(lags) == []
    clock.now = 160.0
    lags = progress.observe({idle: 5, held: 9}, {idle: 5, held: 1})
    assert progress.stalled(lags) == ["news.enriched[1] lag 8, no commit for 70s"]


def test_backoff_doubles_to_its_cap_and_gives_up_after_the_outage_limit():
    clock = Clock()
    backoff = Backoff(initial_s=0.2, max_s=1.0, give_up_s=30, _clock=clock)
    assert [backoff.failed() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    clock.now = 29.0
    assert not backoff.exhausted()
    clock.now = 30.0
    assert backoff.exhausted()
    backoff.reset()
    assert not backoff.exhausted() and backoff.failed() == 0.2


def test_consecutive_failures_reset_on_a_success():
    failing = ConsecutiveFailures(threshold=5)
    failing.record(failed=3, succeeded=0)
    failing.record(failed=1, succeeded=4)
    assert failing.count == 1 and not failing.tripped()
    failing.record(failed=4, succeeded=0)
    assert failing.tripped()


def test_a_partition_nobody_fetches_is_seen_by_every_member_of_the_group():
    # The group Stable, both members fetching 1 and 3, nobody 0 and 2 (seen on noida-db after
    # SIGKILLed replicas rejoined): only the broker's committed offsets show it.
    clock = Clock()
    group = GroupProgress(after_s=240, clock=clock)
    ends = {("news.detected", p): 500 for p in range(4)}
    committed = {("news.detected", 0): 329, ("news.detected", 1): 400, ("news.detected", 2): 357,
                 ("news.detected", 3): 420}
    assert group.observe(ends, committed) == []
    for step in range(1, 9):  # partitions 1 and 3 keep moving; 0 and 2 never do
        clock.now = 30.0 * step
        committed = {**committed, ("news.detected", 1): 400 + step, ("news.detected", 3): 420 + step}
        stalled = group.observe(ends, committed)
    assert stalled == ["news.detected[0] lag 171, no commit by any member for 240s",
                       "news.detected[2] lag 143, no commit by any member for 240s"]


def test_a_group_without_lag_or_waiting_on_purpose_is_not_stalled():
    clock = Clock()
    group = GroupProgress(after_s=240, clock=clock)
    caught_up = {("news.enriched", 0): 70}
    assert group.observe({("news.enriched", 0): 70}, caught_up) == []
    clock.now = 1000
    assert group.observe({("news.enriched", 0): 70}, caught_up) == []  # nothing to do is not a stall
    behind = {("news.enriched", 0): 90}
    assert group.observe(behind, caught_up, waiting=True) == []
    clock.now = 2000
    assert group.observe(behind, caught_up, waiting=True) == []  # backing off: the clock restarts
    clock.now = 2239
    assert group.observe(behind, caught_up) == []
    clock.now = 2240
    assert group.observe(behind, caught_up) == ["news.enriched[0] lag 20, no commit by any member for 240s"]
