"""Consumer lag per partition, and the watchdog for partitions that stopped moving.

Every consuming service exports `wirestream_consumer_lag{service,topic,partition}`:
log-end offset minus the group's committed offset, for the partitions it holds.

A partition with lag whose committed offset has not moved for `stall_after_s`,
while the service is not knowingly waiting (backing off from a downstream outage),
is stalled: a fetcher that lost a partition (seen after a kill -9 of both extract
replicas: the group Stable, yet nobody fetching two of its partitions), a hung
worker, a bug. The host then exits (crash-only) and its supervisor restarts it,
which rejoins the group and fetches again. Pure: the hosts feed it offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared import metrics

log = logging.getLogger(__name__)


@dataclass
class _Partition:
    committed: int | None
    since: float  # when the committed offset last moved (or the partition was first seen)


class PartitionStalled(RuntimeError):
    pass


class PartitionProgress:
    def __init__(self, service: str, stall_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.stall_after_s = stall_after_s
        self.clock = clock
        self._partitions: dict[tuple[str, int], _Partition] = {}

    def observe(self, ends: Mapping[tuple[str, int], int | None], committed: Mapping[tuple[str, int], int | None],
                waiting: bool = False) -> dict[tuple[str, int], int]:
        """Record one sample for the partitions held now; returns their lag.

        `ends`: log-end offset per (topic, partition) (None when unknown);
        `committed`: the group's committed offset (None before the first commit);
        `waiting`: the host is backing off on purpose (downstream down), so no
        progress is expected and none is demanded."""
        now = self.clock()
        lags: dict[tuple[str, int], int] = {}
        for tp in list(self._partitions):
            if tp not in ends:  # revoked: forget it, and its gauge
                del self._partitions[tp]
                metrics.CONSUMER_LAG.remove(self.service, tp[0], str(tp[1]))
        for tp, end in ends.items():
            offset = committed.get(tp)
            state = self._partitions.get(tp)
            if state is None or state.committed != offset or waiting:
                self._partitions[tp] = _Partition(offset, now)
            if end is None:
                continue
            lag = max(0, end - (offset or 0))
            lags[tp] = lag
            metrics.CONSUMER_LAG.labels(self.service, tp[0], str(tp[1])).set(lag)
        return lags

    def stalled(self, lags: Mapping[tuple[str, int], int]) -> list[str]:
        """The partitions with lag that have not committed for stall_after_s."""
        now = self.clock()
        out = []
        for tp, lag in lags.items():
            state = self._partitions.get(tp)
            if lag > 0 and state is not None and now - state.since >= self.stall_after_s:
                out.append(f"{tp[0]}[{tp[1]}] lag {lag}, no commit for {now - state.since:.0f}s")
        return out


class GroupProgress:
    """The same question for every partition of the group's topic, held by anyone or by nobody.

    A member's own watchdog (PartitionProgress) sees only what it believes it holds. After
    SIGKILLed replicas rejoined, noida-db once kept the group Stable with an assignment
    its members never received: both extract replicas fetched partitions 1 and 3, nobody
    fetched 0 and 2, and 227 stories waited with no member seeing any lag. So each member
    also watches the group's committed offsets on the whole topic, read from the broker:
    a partition with lag whose committed offset has not moved for `after_s` (longer than
    a member's own stall limit, so the owner's watchdog speaks first when there is an
    owner) makes this member exit; the restart rejoins the group, and the rebalance hands
    every partition out again. Pure: the caller feeds it offsets."""

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self.clock = clock
        self._partitions: dict[tuple[str, int], _Partition] = {}

    def observe(self, ends: Mapping[tuple[str, int], int | None], committed: Mapping[tuple[str, int], int | None],
                waiting: bool = False) -> list[str]:
        """One sample of the whole topic; returns the partitions that stopped moving.
        `waiting`: this member backs off on purpose (its downstream is down, and so, most
        likely, is everyone's): no progress is demanded of anyone meanwhile."""
        now = self.clock()
        out = []
        for tp, end in ends.items():
            offset = committed.get(tp)
            state = self._partitions.get(tp)
            if state is None or state.committed != offset or waiting:
                self._partitions[tp] = state = _Partition(offset, now)
            lag = max(0, end - (offset or 0)) if end is not None else 0
            if lag > 0 and now - state.since >= self.after_s:
                out.append(f"{tp[0]}[{tp[1]}] lag {lag}, no commit by any member for {now - state.since:.0f}s")
        return out
