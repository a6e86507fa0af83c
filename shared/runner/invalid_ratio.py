"""A limit on the share of invalid messages a consumer will tolerate.

A few bad items are dead-lettered and forgotten. A stream that is mostly
invalid means something is wrong upstream (wrong topic, a broken producer, a
schema change): then the consumer stops loudly instead of dead-lettering the
whole topic.
"""

from __future__ import annotations

from collections import deque


class TooManyInvalid(RuntimeError):
    pass


class InvalidRatioGuard:
    def __init__(self, max_ratio: float, window: int) -> None:
        self.max_ratio = max_ratio
        self._outcomes: deque[bool] = deque(maxlen=window)

    def record(self, invalid: bool) -> None:
        self._outcomes.append(invalid)
        if len(self._outcomes) == self._outcomes.maxlen:
            ratio = sum(self._outcomes) / len(self._outcomes)
            if ratio > self.max_ratio:
                raise TooManyInvalid(
                    f"{ratio:.0%} of the last {len(self._outcomes)} messages were invalid "
                    f"(limit {self.max_ratio:.0%}): refusing to dead-letter a whole stream"
                )
