"""The one runner every consuming service uses.

A service declares a stage (shared.runner.stage) and hands it to a host:
`run_transform` (faust-streaming) for topic -> topic stages, `run_sink`
(kafka-python) for topic -> external store. Both share the same chain
(shared.runner.chain): decode -> process/write -> dead-letter -> commit.
"""

from shared.runner.stage import (
    Rejected,
    SinkStage,
    TransformStage,
    TransientWriteError,
    WriteReport,
    process_isolating_failures,
)

__all__ = [
    "Rejected",
    "SinkStage",
    "TransformStage",
    "TransientWriteError",
    "WriteReport",
    "process_isolating_failures",
]
