"""Kafka plumbing shared by every service: topics, producers, consumers.

All clients are the real kafka-python ones, configured the same way against
production Kafka and against the embedded noida-db.
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import InvalidPartitionsError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from shared.connection_security import kafka_python_kwargs
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

# Large enough for a long story plus its entities; dead letters carry the original bytes.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


def pipeline_topics(settings: CommonSettings) -> list[str]:
    return [settings.topic_raw, settings.topic_detected, settings.topic_enriched, settings.topic_deadletter]


def bootstrap_servers(settings: CommonSettings) -> list[str]:
    return [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()]


def wait_for_admin(settings: CommonSettings, timeout_s: float = 60.0) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), client_id="wirestream-admin",
                                    **kafka_python_kwargs(settings))
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka at {settings.kafka_bootstrap} not reachable: {exc}") from exc
            time.sleep(0.5)


def ensure_topics(settings: CommonSettings) -> list[str]:
    """Create the pipeline's topics if missing; returns the ones it created.

    A topic that exists with fewer partitions than `topic_partitions` gets more
    (Kafka can add partitions, never remove them), so raising
    WIRESTREAM_TOPIC_PARTITIONS on a running deployment takes effect at the next
    start instead of silently doing nothing."""
    admin = wait_for_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in pipeline_topics(settings) if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics([new_topic(settings, name)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another service created it a moment ago
        if created:
            log.info("created topics %s with %d partitions", created, settings.topic_partitions)
        add_partitions(admin, settings, [name for name in pipeline_topics(settings) if name in existing])
        return created
    finally:
        admin.close()


def new_topic(settings: CommonSettings, name: str) -> NewTopic:
    # Dead letters are kept far longer than stories: they are read, fixed and replayed
    # by people, days later. The raw topic is the archive reenrich rebuilds the index
    # from: compacted by story id (the record key), it keeps every story's latest record
    # for ever. The other topics keep the broker's retention.
    configs = {}
    if name == settings.topic_deadletter:
        configs["retention.ms"] = str(settings.topic_deadletter_retention_ms)
    if name == settings.topic_raw:
        configs["cleanup.policy"] = settings.topic_raw_cleanup_policy
    return NewTopic(name, settings.topic_partitions, settings.topic_replication, topic_configs=configs)


def add_partitions(admin: KafkaAdminClient, settings: CommonSettings, topics: list[str]) -> dict[str, int]:
    """Raise each topic to `topic_partitions` partitions; returns {topic: old count} of those raised.

    Existing keys may move to another partition afterwards (the partition is the key's
    hash modulo the count): ordering per story id holds again once in-flight records
    are consumed, and every write is idempotent by id and version."""
    if not topics:
        return {}
    described = admin.describe_topics(topics)
    current = {topic["name"]: len(topic["partitions"]) for topic in described}
    raise_to = {name: count for name, count in current.items() if count < settings.topic_partitions}
    if raise_to:
        try:
            admin.create_partitions({name: settings.topic_partitions for name in raise_to})
        except InvalidPartitionsError:
            pass  # another replica raised them a moment ago
        log.warning("raised partitions of %s to %d (were %s)", sorted(raise_to), settings.topic_partitions, raise_to)
    for name, count in current.items():
        if count > settings.topic_partitions:
            log.warning("%s has %d partitions, more than WIRESTREAM_TOPIC_PARTITIONS=%d; Kafka cannot remove "
                        "partitions, so it keeps %d", name, count, settings.topic_partitions, count)
    return raise_to


def broker_max_message_bytes(settings: CommonSettings, topic: str | None = None) -> int:
    """The largest record the broker accepts on `topic` (default news.raw), as it reports
    it (topic `max.message.bytes`, else broker `message.max.bytes`); Kafka's default when
    it reports neither (noida-db answers DescribeConfigs with nothing)."""
    topic = topic or settings.topic_raw
    admin = wait_for_admin(settings)
    try:
        found = _config_value(admin, ConfigResource(ConfigResourceType.TOPIC, topic), "max.message.bytes")
        if found is None:
            for broker in admin.describe_cluster().get("brokers", []):
                found = _config_value(admin, ConfigResource(ConfigResourceType.BROKER, str(broker["node_id"])),
                                      "message.max.bytes")
                if found is not None:
                    break
    except (KafkaError, KeyError) as exc:  # KeyError: kafka-python's describe_cluster on noida-db's answer
        log.warning("could not read the broker's message size limit (%r); assuming Kafka's default", exc)
        found = None
    finally:
        admin.close()
    limit = found or KAFKA_DEFAULT_MAX_MESSAGE_BYTES
    # Our producers never send more than max_request_size, whatever the broker allows.
    return min(limit, MAX_REQUEST_BYTES)


def _config_value(admin: KafkaAdminClient, resource: ConfigResource, key: str) -> int | None:
    described = admin.describe_configs([resource], config_filter="all")
    configs = described.get(resource.resource_type.name.lower(), {}).get(resource.name, {})
    entry = configs.get(key)
    value = entry.get("value") if isinstance(entry, dict) else entry
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def send_confirmed(producer: KafkaProducer, topic: str, records, timeout_s: float = 30.0) -> None:
    """Send records and return only when Kafka acknowledged every one (acks=all).

    kafka-python's flush() does not raise when a record failed, so each future is
    checked: the first failure raises its KafkaError. Callers that commit offsets or
    answer "accepted" do so only after this returns."""
    futures = [producer.send(topic, key=r.key, value=r.value, headers=r.headers) for r in records]
    producer.flush(timeout=timeout_s)
    for future in futures:
        future.get(timeout=timeout_s)


def compression(settings: CommonSettings) -> str | None:
    """The producers' record-batch compression: None for "none"."""
    return None if settings.kafka_compression == "none" else settings.kafka_compression


def make_producer(settings: CommonSettings, client_id: str) -> KafkaProducer:
    # acks=all: a story is only "accepted" once every in-sync replica has it.
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers(settings),
        client_id=client_id,
        acks="all",
        linger_ms=5,
        retries=5,
        max_request_size=MAX_REQUEST_BYTES,
        compression_type=compression(settings),
        **kafka_python_kwargs(settings),
    )


def make_consumer(settings: CommonSettings, group_id: str, topics: list[str], **overrides) -> KafkaConsumer:
    # Auto-commit off: offsets are committed by the runner only after the
    # downstream write is confirmed (at-least-once, duplicates absorbed by ids).
    config = dict(
        bootstrap_servers=bootstrap_servers(settings),
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        fetch_max_bytes=MAX_REQUEST_BYTES * 2,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        **kafka_python_kwargs(settings),
    )
    if settings.instance_id:
        config["group_instance_id"] = settings.instance_id
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    consumer.subscribe(topics)
    return consumer


def producer_fatal_error(producer: KafkaProducer, failure: BaseException | None = None) -> BaseException | None:
    """The error that left `producer` unable to send anything more, else None.

    kafka-python's idempotent producer (the default since 3.0) treats a broker refusal
    it cannot retry, such as MessageSizeTooLargeError, as fatal: from then on it aborts
    every batch, however small, until it is closed. Such a producer must be replaced.
    Recognised two ways: the producer's own state (a private attribute, read defensively
    in case a release moves it), and `failure`, the error a send just failed with, when
    it is a broker refusal rather than a retriable or timeout error."""
    manager = getattr(producer, "_transaction_manager", None)
    try:
        if manager is not None and manager.has_fatal_error():
            return manager.last_error or KafkaError("producer in a fatal state")
    except Exception:  # noqa: BLE001 - a private API that moved: fall back to the failure's class
        pass
    if isinstance(failure, KafkaError) and not getattr(failure, "retriable", False) \
            and not isinstance(failure, KafkaTimeoutError):
        return failure
    return None
