"""Scaling that sticks, against the real noida-db through kafka-python.

Raising WIRESTREAM_TOPIC_PARTITIONS on an existing deployment adds partitions
when a service (or `wirestream setup`) starts; the dead-letter topic is created
with its own, far longer retention. noida-db answers CreatePartitions and
DescribeConfigs for topic configs, so both are checked on a real broker.
Only noida-db runs here (no services): the tests call shared.kafka_io directly.
"""

from __future__ import annotations

import socket

import pytest
from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from services import stack
from services.stack import StackConfig
from shared import kafka_io
from shared.settings import IndexSettings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory):
    config = StackConfig(run_dir=tmp_path_factory.mktemp("noida-topics"), kafka_port=_free_port(),
                         elasticsearch_port=_free_port())
    stack.start_noida(config)
    try:
        yield f"127.0.0.1:{config.kafka_port}"
    finally:
        stack.stop_noida(config)


def _settings(bootstrap: str, **values) -> IndexSettings:
    names = {"topic_raw": "t.raw", "topic_detected": "t.detected", "topic_enriched": "t.enriched",
             "topic_deadletter": "t.deadletter"}
    return IndexSettings(kafka_bootstrap=bootstrap, **{**names, **values})


def _partition_counts(settings: IndexSettings) -> dict[str, int]:
    admin = kafka_io.wait_for_admin(settings)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(kafka_io.pipeline_topics(settings))}
    finally:
        admin.close()


def test_raising_the_partition_setting_adds_partitions_at_start(bootstrap):
    before = _settings(bootstrap, topic_partitions=2)
    assert sorted(kafka_io.ensure_topics(before)) == sorted(kafka_io.pipeline_topics(before))
    assert set(_partition_counts(before).values()) == {2}

    after = _settings(bootstrap, topic_partitions=6)
    assert kafka_io.ensure_topics(after) == []  # nothing new created...
    assert set(_partition_counts(after).values()) == {6}  # ...but every topic grew
    # The new partitions take records.
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        # Keyed, as every wirestream producer sends: the raw topic is compacted by key.
        assert producer.send("t.raw", key=b"story-1", value=b"story", partition=5).get(timeout=30).partition == 5
    finally:
        producer.close()

    # Starting again with the same or a lower setting changes nothing (Kafka cannot remove partitions).
    assert kafka_io.ensure_topics(_settings(bootstrap, topic_partitions=3)) == []
    assert set(_partition_counts(after).values()) == {6}


def test_the_deadletter_topic_keeps_records_far_longer(bootstrap):
    settings = _settings(bootstrap, topic_raw="r.raw", topic_detected="r.detected", topic_enriched="r.enriched",
                         topic_deadletter="r.deadletter", topic_deadletter_retention_ms=123_456_789_000)
    kafka_io.ensure_topics(settings)
    admin = kafka_io.wait_for_admin(settings)
    try:
        def config(topic: str, key: str = "retention.ms"):
            described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            entry = described["topic"][topic].get(key)
            return entry["value"] if entry else None

        assert config("r.deadletter") == "123456789000"
        assert config("r.raw") != "123456789000"  # stories keep the broker's retention
        # Issue 11 item 5: the raw topic is the reenrich archive, compacted by story id.
        assert config("r.raw", "cleanup.policy") == "compact"
        assert config("r.detected", "cleanup.policy") in (None, "delete")
    finally:
        admin.close()
