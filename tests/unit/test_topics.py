"""shared.kafka_io.ensure_topics with a fake admin client: what it asks Kafka for."""

from __future__ import annotations

from kafka.errors import InvalidPartitionsError

from shared import kafka_io
from shared.settings import IndexSettings


class FakeAdmin:
    def __init__(self, partitions: dict[str, int], race: bool = False):
        self.partitions = dict(partitions)
        self.created = []
        self.raised = []
        self.race = race

    def list_topics(self):
        return list(self.partitions)

    def create_topics(self, topics):
        self.created.extend(topics)
        for topic in topics:
            self.partitions[topic.name] = topic.num_partitions

    def describe_topics(self, topics):
        return [{"name": name, "partitions": [{}] * self.partitions[name]} for name in topics]

    def create_partitions(self, counts):
        self.raised.append(counts)
        if self.race:
            raise InvalidPartitionsError("already has 8 partitions")
        self.partitions.update(counts)

    def close(self):
        pass


def _run(monkeypatch, admin, **values):
    monkeypatch.setattr(kafka_io, "wait_for_admin", lambda settings: admin)
    return kafka_io.ensure_topics(IndexSettings(**values))


def test_new_topics_get_the_partition_count_and_only_deadletters_a_long_retention(monkeypatch):
    admin = FakeAdmin({})
    created = _run(monkeypatch, admin, topic_partitions=3, topic_deadletter_retention_ms=-1)
    assert created == ["news.raw", "news.detected", "news.enriched", "news.deadletter"]
    configs = {topic.name: topic.topic_configs for topic in admin.created}
    assert configs["news.deadletter"] == {"retention.ms": "-1"}
    assert configs["news.detected"] == configs["news.enriched"] == {}
    # Issue 11 item 5: the raw topic is the archive reenrich reads, compacted by story id.
    assert configs["news.raw"] == {"cleanup.policy": "compact"}
    assert {topic.num_partitions for topic in admin.created} == {3}
    assert admin.raised == []  # created topics need no raising


def test_the_raw_topic_can_keep_time_retention_instead(monkeypatch):
    admin = FakeAdmin({})
    _run(monkeypatch, admin, topic_raw_cleanup_policy="delete")
    assert {topic.name: topic.topic_configs for topic in admin.created}["news.raw"] == {"cleanup.policy": "delete"}


def test_existing_topics_with_fewer_partitions_are_raised_and_others_left(monkeypatch):
    admin = FakeAdmin({"news.raw": 2, "news.detected": 8, "news.enriched": 4, "news.deadletter": 4})
    assert _run(monkeypatch, admin, topic_partitions=4) == []
    assert admin.raised == [{"news.raw": 4}]  # never asks to shrink news.detected


def test_a_replica_that_loses_the_race_to_raise_partitions_starts_anyway(monkeypatch):
    admin = FakeAdmin({"news.raw": 2, "news.detected": 2, "news.enriched": 2, "news.deadletter": 2}, race=True)
    assert _run(monkeypatch, admin, topic_partitions=8) == []
    assert len(admin.raised) == 1
