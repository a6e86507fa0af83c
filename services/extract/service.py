"""extract: news.detected -> news.enriched, adding entities.

A faust-streaming agent hosted by shared.runner.faust_host; the processing is
services.extract.nlp.Enricher (spaCy NER for en/fr plus rules and
normalisation), built once per worker process; the models of
WIRESTREAM_PRELOAD_MODELS load when the worker starts, any other when the first
story in its language arrives. Run one process per core: they
share the partitions as one consumer group.

Every result is fitted to the broker's record limit, read once at start-up
(services.extract.nlp.fit): entities are dropped until the record fits, and a
story too large even without them is dead-lettered, so no send is ever refused.
"""

from __future__ import annotations

from functools import partial

from shared.contract import Story
from shared.kafka_io import broker_max_message_bytes
from shared.limits import max_record_value_bytes
from shared.log_setup import configure_logging
from shared.runner import Rejected, TransformStage
from shared.runner.faust_host import run_transform
from shared.settings import ExtractSettings
from services.extract.nlp import Enricher
from services.extract.nlp.fit import fit_record


def enrich_within_limit(enricher: Enricher, max_record_bytes: int, stories: list[Story]) -> list[Story | Rejected]:
    return [fit_record(story, max_record_bytes) for story in enricher.enrich(stories)]


def make_enricher(batch_size: int, max_record_bytes: int, extra_names: str | None = None,
                  preload: tuple[str, ...] = ()):
    """Built inside the stage's worker process, so the models load there: those in `preload`
    now, before the first batch, any other on first use."""
    enricher = Enricher(batch_size=batch_size, extra_names=extra_names)
    for lang in preload:
        enricher.nlp(lang)
    return partial(enrich_within_limit, enricher, max_record_bytes)


def build_stage(settings: ExtractSettings, max_record_bytes: int) -> TransformStage:
    return TransformStage(
        name="extract",
        source_topic=settings.topic_detected,
        sink_topic=settings.topic_enriched,
        make_process=partial(make_enricher, settings.batch_size, max_record_bytes, settings.extra_names,
                             tuple(settings.preload_languages())),
        batch_size=settings.stream_batch_size,
        batch_wait_s=settings.batch_wait_s,
    )


def main() -> None:
    settings = ExtractSettings()
    configure_logging(settings.log_level)
    # The largest record value the broker takes on the topic we write to.
    max_record_bytes = max_record_value_bytes(broker_max_message_bytes(settings, settings.topic_enriched))
    run_transform(build_stage(settings, max_record_bytes), settings, settings.consumer_group, settings.metrics_port)
