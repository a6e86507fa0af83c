"""The separate process a transform stage's processing runs in.

The faust event loop (Kafka fetches, heartbeats, commits) lives in the main
process; the stage's CPU-heavy work (spaCy, fastText) runs here, in its own
interpreter. So neither can take the GIL from the other: heartbeats are never
starved by NER, and NER is never slowed by the event loop's I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.contract import Story
from shared.messages import OutRecord
from shared.runner.chain import process_and_encode
from shared.runner.crash_only import die_with_parent
from shared.runner.stage import ProcessFn, Rejected

_process: ProcessFn | None = None


def initialize(make_process: Callable[[], ProcessFn]) -> None:
    global _process
    die_with_parent()  # never outlive a service killed with SIGKILL or exiting with os._exit
    _process = make_process()


def ready() -> bool:
    return _process is not None


def run(stories: list[Story]) -> list[OutRecord | Rejected]:
    """Results go back already encoded (see chain.process_and_encode)."""
    assert _process is not None, "worker process not initialised"
    return process_and_encode(_process, stories)
