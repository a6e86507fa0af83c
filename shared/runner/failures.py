"""The three ways a record can fail, handled the same way by every host.

- transient: the downstream is down or overloaded (Elasticsearch unreachable, 429,
  Kafka not answering). The record is fine and will succeed later: keep the batch,
  pause, back off, stay in the consumer group, never commit past it. A record that
  keeps failing transiently while the rest of its batch succeeds is dead-lettered
  after `max_attempts` as `transient_exhausted`.
- item: this record can never succeed (junk bytes, a document Elasticsearch refuses
  for its content, a record too large for the broker). Dead-letter it with its reason
  and origin, then go on.
- systemic: every record fails the same way, so the fault is not in the records (a
  stage bug raising on every story, an index write block, a missing index, a record
  written by a newer schema than this reader knows). Hold the batch uncommitted, mark
  the service not ready with the reason, back off and retry; a service that stays
  systemically failed past its give-up time exits (crash-only) so a supervisor
  restarts it and an operator is alerted. Never dead-letter a whole stream.

See docs/decisions/0010-failure-classes-and-crash-only.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

TRANSIENT = "transient"
ITEM = "item"
TRANSIENT_EXHAUSTED = "transient_exhausted"
SYSTEMIC = "systemic"
# What a dead letter's `failure_class` can say (systemic failures are never dead-lettered).
DEAD_LETTER_CLASSES = (ITEM, TRANSIENT_EXHAUSTED)

# A crash-only exit that a supervisor restarts; nothing past the last confirmed write was committed.
EXIT_STUCK = 75  # EX_TEMPFAIL: retried too long (downstream down, systemic failure, a hung stage)


class SystemicFailure(Exception):
    """Every record of a batch failed the same way: hold it, do not dead-letter it."""

    def __init__(self, reason_class: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_class = reason_class
        self.reason = reason


@dataclass
class Backoff:
    """Exponential backoff with a give-up time for one outage (reset on success).

    `give_up_s` bounds the whole outage, not one wait: a service that could not
    make progress for that long exits and is restarted (crash-only), rather than
    retrying forever in a loop nobody watches."""

    initial_s: float = 0.2
    max_s: float = 10.0
    give_up_s: float = 600.0
    attempts: int = 0
    since: float | None = None
    _clock: object = field(default=time.monotonic, repr=False)

    def failed(self) -> float:
        """Record one failure; returns how long to wait before the next try."""
        now = self._clock()
        if self.since is None:
            self.since = now
        self.attempts += 1
        return min(self.max_s, self.initial_s * 2 ** min(self.attempts - 1, 20))

    def exhausted(self) -> bool:
        return self.since is not None and self._clock() - self.since >= self.give_up_s

    def outage_s(self) -> float:
        return 0.0 if self.since is None else self._clock() - self.since

    def reset(self) -> None:
        self.attempts = 0
        self.since = None


class ConsecutiveFailures:
    """Counts processing failures in a row across batches: a stage that fails on
    `threshold` stories in a row with none succeeding in between is failing
    systemically, not meeting a run of bad stories."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.count = 0

    def record(self, failed: int, succeeded: int) -> None:
        self.count = failed if succeeded else self.count + failed

    def tripped(self) -> bool:
        return self.count >= self.threshold
