"""index: news.enriched -> Elasticsearch (alias `news`).

A kafka-python consumer hosted by shared.runner.kafka_host: bulk write, then
dead-letter what Elasticsearch refused, then commit.
"""

from __future__ import annotations

from shared.elastic import ensure_index, make_client
from shared.log_setup import configure_logging
from shared.runner import SinkStage
from shared.runner.kafka_host import run_sink
from shared.settings import IndexSettings
from shared.generations import uses_ilm
from services.index.generations import GenerationRouter
from services.index.writer import ElasticsearchWriter, refresh_once


def build_stage(settings: IndexSettings) -> SinkStage:
    setup_client = make_client(settings)
    ensure_index(setup_client, settings.index_name, settings.index_alias, settings)
    # A run that stopped between a bulk and its refresh left stories that only a refresh shows;
    # with the server's own refresh off (index_refresh_interval -1) none would come.
    refresh_once(setup_client, settings.index_alias)
    # Writes retry on the runner's backoff (pausing the consumer, reporting readiness),
    # not inside the client, whose own retries hid an outage for up to 30 s per request.
    write_client = make_client(settings, retries=False)
    router = GenerationRouter(write_client, settings, rollover_enabled=not uses_ilm(setup_client, settings)
                              and settings.rollover in ("auto", "service"))
    writer = ElasticsearchWriter(write_client, settings.index_name, settings.bulk_max_bytes, generations=router,
                                 refresh_interval_s=settings.refresh_interval_s)
    return SinkStage(name="index", source_topic=settings.topic_enriched, write=writer.write,
                     batch_size=settings.bulk_max_docs, tick=writer.tick)


def main() -> None:
    settings = IndexSettings()
    configure_logging(settings.log_level)
    run_sink(build_stage(settings), settings, settings.consumer_group, settings.metrics_port,
             poll_timeout_ms=settings.poll_timeout_ms)
