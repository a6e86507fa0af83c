"""An alarm on the share of invalid (undecodable) records a consumer reads.

A few bad records are dead-lettered and forgotten. A stream that is mostly invalid
means something is wrong upstream (a wrong topic, a broken producer, a writer with a
newer schema): the service says so loudly (log, `wirestream_invalid_ratio`, /readyz)
so a person looks at it.

It does not stop the consumer. Stopping cannot make junk valid: a restarted service
would read the same records and stop again, forever, until a person moved the
offset by hand (seen: 300 junk records on news.raw halted langdetect and wrote 815
dead letters for them). Each invalid record is dead-lettered once, with its bytes,
and can be replayed after a fix; the valid records behind it flow on. Failures that
are not in the records (a stage that raises on everything, a sink refusing every
write) are systemic and are held uncommitted instead (shared/runner/failures.py).
"""

from __future__ import annotations

from collections import deque

from shared import metrics


class InvalidRatioGuard:
    def __init__(self, max_ratio: float, window: int, service: str = "") -> None:
        self.max_ratio = max_ratio
        self.service = service
        self._outcomes: deque[bool] = deque(maxlen=window)
        self.tripped = False

    def record(self, invalid: bool) -> None:
        self._outcomes.append(invalid)
        self.tripped = len(self._outcomes) == self._outcomes.maxlen and self.ratio() > self.max_ratio
        if self.service:
            metrics.INVALID_RATIO.labels(self.service).set(self.ratio())

    def ratio(self) -> float:
        return sum(self._outcomes) / len(self._outcomes) if self._outcomes else 0.0

    def describe(self) -> str:
        invalid = sum(self._outcomes)
        # Counts, not rounded percentages: "50% (limit 50%)" read as a contradiction.
        return (f"{invalid} of the last {len(self._outcomes)} records were invalid "
                f"({invalid / max(1, len(self._outcomes)):.1%}, limit {self.max_ratio:.1%}): "
                "check what writes to this topic; the invalid records are in the dead-letter topic")
