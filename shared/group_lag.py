"""The lag of every pipeline consumer group, read from the broker (not from the consumers).

Each consuming service exports its own lag (`wirestream_consumer_lag`) while it runs.
When every replica of a stage is stopped, nobody exports that, yet that is when lag
matters most. The ingest service therefore also reads, every `interval_s`, each
stage's committed offsets (OffsetFetch) and the topics' end offsets (ListOffsets)
and exports `wirestream_group_lag{group,topic}`: what the dashboard's lag panel and
the lag alert use.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from shared import metrics
from shared.kafka_io import bootstrap_servers
from shared.settings import CommonSettings, ExtractSettings, IndexSettings, LangdetectSettings

log = logging.getLogger(__name__)


def pipeline_groups() -> dict[str, str]:
    """{consumer group: the topic it reads} for every stage, as their settings name them."""
    langdetect, extract, index = LangdetectSettings(), ExtractSettings(), IndexSettings()
    return {langdetect.consumer_group: langdetect.topic_raw, extract.consumer_group: extract.topic_detected,
            index.consumer_group: index.topic_enriched}


def group_lags(admin: KafkaAdminClient, consumer: KafkaConsumer, groups: dict[str, str]) -> dict[tuple[str, str], int]:
    lags = {}
    for group, topic in groups.items():
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            continue
        ends = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets({group: partitions}).get(group, {})
        total = 0
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(0, ends.get(tp, 0) - offset)
        lags[(group, topic)] = total
    return lags


def report_forever(settings: CommonSettings, stop: threading.Event, interval_s: float = 10.0) -> None:
    groups = pipeline_groups()
    admin = consumer = None
    while not stop.is_set():
        try:
            if admin is None:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), client_id="wirestream-lag")
                consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings), group_id=None,
                                         enable_auto_commit=False)
            for (group, topic), lag in group_lags(admin, consumer, groups).items():
                metrics.GROUP_LAG.labels(group, topic).set(lag)
        except Exception as exc:  # noqa: BLE001 - lag is reported best effort, never at the cost of ingest
            log.warning("could not read the pipeline's group lag: %r", exc)
            for client in (admin, consumer):
                if client is not None:
                    client.close()
            admin = consumer = None
        stop.wait(interval_s)


def start(settings: CommonSettings, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=report_forever, args=(settings, stop), name="group-lag", daemon=True)
    thread.start()
    return thread
