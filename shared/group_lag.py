"""The lag of every pipeline consumer group, read from the broker (not from the consumers),
and the trimming of intermediate topics their one reader has committed.

Each consuming service exports its own lag (`wirestream_consumer_lag`) while it runs.
When every replica of a stage is stopped, nobody exports that, yet that is when lag
matters most. The ingest service therefore also reads, every `interval_s`, each
stage's committed offsets (OffsetFetch) and the topics' end offsets (ListOffsets)
and exports `wirestream_group_lag{group,topic}`: what the dashboard's lag panel and
the lag alert use.

With `trim_consumed_topics` it also deletes (Kafka DeleteRecords) what the only reader of
an intermediate topic has committed: news.detected below extract's committed offsets,
news.enriched below index's. Nothing needs those records again (the archive is
news.raw; a dead letter carries its own copy), and noida-db, which rewrites its whole
Kafka state as it changes, then keeps about a third of it: at 20,000 stories it wrote
15.8 GB and used 0.62 of a core without trimming. news.raw and the dead-letter topic are
never trimmed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from shared import metrics
from shared.kafka_io import bootstrap_servers, kafka_python_kwargs
from shared.settings import CommonSettings, ExtractSettings, IndexSettings, LangdetectSettings

log = logging.getLogger(__name__)


def pipeline_groups() -> dict[str, str]:
    """{consumer group: the topic it reads} for every stage, as their settings name them."""
    langdetect, extract, index = LangdetectSettings(), ExtractSettings(), IndexSettings()
    return {langdetect.consumer_group: langdetect.topic_raw, extract.consumer_group: extract.topic_detected,
            index.consumer_group: index.topic_enriched}


def intermediate_readers() -> dict[str, str]:
    """{intermediate topic: the one group that reads it}: what trimming may delete below."""
    extract, index = ExtractSettings(), IndexSettings()
    return {extract.topic_detected: extract.consumer_group, index.topic_enriched: index.consumer_group}


def committed_offsets(admin: KafkaAdminClient, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    committed = admin.list_group_offsets({group: partitions}).get(group, {})
    return {tp: meta.offset for tp, meta in committed.items() if meta is not None and meta.offset >= 0}


def partition_offsets(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, topic: str):
    """(end, committed) per (topic, partition) of the whole topic, as the broker has them. A
    committed offset below the log start counts as the log start: records removed by
    retention or trimming can never be read, so they are not lag."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not partitions:
        return {}, {}
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    committed = committed_offsets(admin, group, partitions)
    return ({(tp.topic, tp.partition): ends.get(tp) for tp in partitions},
            {(tp.topic, tp.partition): max(committed.get(tp, 0), starts.get(tp, 0)) for tp in partitions})


def group_lags(admin: KafkaAdminClient, consumer: KafkaConsumer, groups: dict[str, str]) -> dict[tuple[str, str], int]:
    lags = {}
    for group, topic in groups.items():
        ends, committed = partition_offsets(admin, consumer, group, topic)
        if ends:
            lags[(group, topic)] = sum(max(0, (end or 0) - committed[tp]) for tp, end in ends.items())
    return lags


def poll_broker(settings: CommonSettings, client_id: str, each: Callable[[KafkaAdminClient, KafkaConsumer], None],
                stop: threading.Event, interval_s: float, what: str) -> None:
    """Call `each(admin, consumer)` every `interval_s` until `stop`, with clients of its own
    (never the consumer that does the work). A failure is logged and the clients made anew
    at the next round: a reader of the broker must never stop the service it runs in."""
    admin = consumer = None
    while not stop.is_set():
        try:
            if admin is None:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), client_id=client_id,
                                         **kafka_python_kwargs(settings))
                consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings), group_id=None,
                                         enable_auto_commit=False, **kafka_python_kwargs(settings))
            each(admin, consumer)
        except Exception as exc:  # noqa: BLE001 - best effort, see above
            log.warning("could not read %s from the broker: %r", what, exc)
            for client in (admin, consumer):
                if client is not None:
                    client.close()
            admin = consumer = None
        stop.wait(interval_s)


class Trimmer:
    """Deletes records of intermediate topics below their one reader's committed offsets."""

    def __init__(self, readers: dict[str, str]) -> None:
        self.readers = readers
        self.trimmed_to: dict[TopicPartition, int] = {}

    def trim(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> int:
        """Returns how many records were deleted this time."""
        deleted = 0
        for topic, group in self.readers.items():
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            if not partitions:
                continue
            wanted = {tp: offset for tp, offset in committed_offsets(admin, group, partitions).items()
                      if offset > self.trimmed_to.get(tp, 0)}
            if not wanted:
                continue
            admin.delete_records(wanted)
            deleted += sum(offset - self.trimmed_to.get(tp, 0) for tp, offset in wanted.items())
            self.trimmed_to.update(wanted)
        return deleted


def report_forever(settings: CommonSettings, stop: threading.Event, interval_s: float = 10.0,
                   trim: bool = False) -> None:
    groups = pipeline_groups()
    trimmer = Trimmer(intermediate_readers()) if trim else None

    def report(admin: KafkaAdminClient, consumer: KafkaConsumer) -> None:
        for (group, topic), lag in group_lags(admin, consumer, groups).items():
            metrics.GROUP_LAG.labels(group, topic).set(lag)
        if trimmer is not None:
            deleted = trimmer.trim(admin, consumer)
            if deleted:
                log.debug("trimmed %d consumed records of the intermediate topics", deleted)

    poll_broker(settings, "wirestream-lag", report, stop, interval_s, "the pipeline's group lag")


def start(settings: CommonSettings, stop: threading.Event, trim: bool = False) -> threading.Thread:
    thread = threading.Thread(target=report_forever, args=(settings, stop), kwargs={"trim": trim},
                              name="group-lag", daemon=True)
    thread.start()
    return thread
