"""One log format for every service: time, service, level, logger, message."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python and faust are chatty at INFO; their warnings still show.
    for noisy in ("kafka", "aiokafka", "faust", "mode", "elastic_transport"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
