"""What a pipeline stage is: a pure function over a batch of stories.

A service declares one stage; the runner hosts it (decode -> process -> write
-> commit). Stages never touch Kafka themselves, so they test without a broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.contract import Story
from shared.runner.failures import ITEM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejected:
    """An item a stage refuses; it goes to the dead-letter topic with this reason.

    `failure_class` is `item` (it can never succeed as it is) or `transient_exhausted`
    (it kept failing transiently while the rest of its batch went through)."""

    reason_class: str
    reason: str
    failure_class: str = ITEM
    attempts: int = 1


# The reason class of a story whose processing raised: counted by the hosts to tell one
# poison story (dead-lettered) from a stage that fails on everything (systemic).
PROCESSING_ERROR = "processing_error"


ProcessFn = Callable[[list[Story]], list["Story | Rejected"]]


@dataclass
class TransformStage:
    """Reads stories from one topic, writes the processed stories to another.

    `make_process` builds the processing function; it must be picklable (a
    module-level function or a functools.partial of one) because the host
    calls it inside a separate worker process, where models are loaded once.
    """

    name: str
    source_topic: str
    sink_topic: str
    make_process: Callable[[], ProcessFn]
    batch_size: int = 32
    batch_wait_s: float = 0.2


class TransientWriteError(Exception):
    """The sink is unavailable for now (down, overloaded): retry the whole batch later."""


class SystemicWriteError(Exception):
    """The sink refuses every document for a reason that is not in the documents (a
    write block, a missing index, no permission): hold the batch, alert, retry later."""

    def __init__(self, reason_class: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_class = reason_class
        self.reason = reason


@dataclass
class WriteReport:
    """What the sink made of a batch, by position in the batch."""

    rejected: dict[int, Rejected] = field(default_factory=dict)  # refused for good -> dead letter
    stale: set[int] = field(default_factory=set)  # superseded by a newer version: fine, not an error
    retry: dict[int, str] = field(default_factory=dict)  # refused for now (429 on one item): position -> reason


WriteFn = Callable[[list[Story]], WriteReport]


@dataclass
class SinkStage:
    """Reads stories from a topic and lands them in an external store."""

    name: str
    source_topic: str
    write: WriteFn
    batch_size: int = 500
    # Called on every turn of the host's loop, between batches: for work a sink owes on its
    # own schedule (the index writer's trailing refresh). Must be quick and never raise.
    tick: Callable[[], None] | None = None


def process_isolating_failures(process: ProcessFn, stories: list[Story]) -> list[Story | Rejected]:
    """Run a stage over a batch; if the batch blows up, find the item that did it.

    One poison story must not stall a partition or take good stories with it:
    on an exception we retry item by item and reject only the ones that fail.
    """
    if not stories:
        return []
    try:
        results = process(stories)
        if len(results) != len(stories):
            raise RuntimeError(f"stage returned {len(results)} results for {len(stories)} stories")
        return results
    except Exception as exc:  # noqa: BLE001 - anything a stage raises is isolated, never fatal
        if len(stories) == 1:
            log.warning("story %s failed processing: %r", stories[0].id, exc)
            return [Rejected(PROCESSING_ERROR, f"{type(exc).__name__}: {exc}"[:2000])]
    return [process_isolating_failures(process, [story])[0] for story in stories]
