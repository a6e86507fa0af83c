"""Trimming the intermediate topics below their one reader's commits (shared/group_lag.py)."""

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from shared.group_lag import Trimmer, intermediate_readers


class FakeAdmin:
    def __init__(self, committed):
        self.committed = committed  # group -> {tp: offset}
        self.deleted: list[dict] = []

    def list_group_offsets(self, specs):
        (group, partitions), = specs.items()
        return {group: {tp: OffsetAndMetadata(self.committed.get(group, {}).get(tp, -1), "", -1)
                        for tp in partitions}}

    def delete_records(self, offsets):
        self.deleted.append(dict(offsets))


class FakeConsumer:
    def partitions_for_topic(self, topic):
        return {0, 1}


def test_only_the_intermediate_topics_are_trimmed_and_only_below_their_readers_commits():
    readers = intermediate_readers()
    assert readers == {"news.detected": "wirestream-extract", "news.enriched": "wirestream-index"}
    assert "news.raw" not in readers and "news.deadletter" not in readers, "the archive and dead letters stay"
    detected0, detected1 = TopicPartition("news.detected", 0), TopicPartition("news.detected", 1)
    admin = FakeAdmin({"wirestream-extract": {detected0: 40}, "wirestream-index": {}})
    trimmer = Trimmer(readers)
    assert trimmer.trim(admin, FakeConsumer()) == 40
    assert admin.deleted == [{detected0: 40}], "partition 1 has no commit yet: nothing deleted there"
    assert trimmer.trim(admin, FakeConsumer()) == 0 and len(admin.deleted) == 1, "nothing new committed"
    admin.committed["wirestream-extract"].update({detected0: 55, detected1: 3})
    assert trimmer.trim(admin, FakeConsumer()) == 15 + 3
