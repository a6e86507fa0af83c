"""extract: news.detected -> news.enriched, adding entities.

A faust-streaming agent hosted by shared.runner.faust_host; the processing is
services.extract.nlp.Enricher (spaCy NER for en/fr plus rules and
normalisation), built once per worker process; each language's model loads
when the first story in that language arrives. Run one process per core: they
share the partitions as one consumer group.
"""

from __future__ import annotations

from functools import partial

from shared.log_setup import configure_logging
from shared.runner import TransformStage
from shared.runner.faust_host import run_transform
from shared.settings import ExtractSettings
from services.extract.nlp import Enricher


def make_enricher(batch_size: int):
    """Built inside the stage's worker process, so the models load there (each on first use)."""
    return Enricher(batch_size=batch_size).enrich


def build_stage(settings: ExtractSettings) -> TransformStage:
    return TransformStage(
        name="extract",
        source_topic=settings.topic_detected,
        sink_topic=settings.topic_enriched,
        make_process=partial(make_enricher, settings.batch_size),
        batch_size=settings.stream_batch_size,
        batch_wait_s=settings.batch_wait_s,
    )


def main() -> None:
    settings = ExtractSettings()
    configure_logging(settings.log_level)
    run_transform(build_stage(settings), settings, settings.consumer_group, settings.metrics_port)
