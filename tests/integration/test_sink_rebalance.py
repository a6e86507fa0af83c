"""The sink host through a rebalance while its downstream is down (issue 9 item 1).

A batch held while Elasticsearch is down is dropped when its partitions are
revoked; when they come back to the same consumer, kafka-python keeps its fetch
position past that batch, so the host must seek back or the next batch commits
past records nobody wrote. This drives the real SinkHost over the real broker
(noida-db), with a sink whose availability the test controls.
"""

from __future__ import annotations

import struct
import threading
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from shared.contract import Story
from shared.messages import encode_story
from shared.observability import Health
from shared.runner.kafka_host import SinkHost
from shared.runner.stage import SinkStage, TransientWriteError, WriteReport
from shared.settings import IndexSettings
from tests.integration.conftest import wait_until

STORIES = 11


class ControlledSink:
    def __init__(self) -> None:
        self.down = True
        self.written: list[str] = []
        self.attempts = 0

    def write(self, stories: list[Story]) -> WriteReport:
        self.attempts += 1
        if self.down:
            raise TransientWriteError("connection refused (test)")
        self.written.extend(story.id for story in stories)
        return WriteReport()


def test_a_rebalance_while_the_sink_is_down_loses_nothing(running_stack):
    run = uuid.uuid4().hex[:8]
    topic, group = f"rebalance-{run}", f"rebalance-{run}"
    admin = KafkaAdminClient(bootstrap_servers=running_stack.bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=running_stack.bootstrap, acks="all")
    ids = [f"{run}-{i:02d}" for i in range(STORIES)]
    for i, story_id in enumerate(ids):
        record = encode_story(Story(id=story_id, headline=f"Story {i}", body="Body."))
        producer.send(topic, key=record.key, value=record.value, headers=record.headers, partition=i % 2)
    producer.flush()
    producer.close()

    # A short max poll interval is also the group's rebalance timeout: the broker waits that
    # long for every member to rejoin, and these consumers rejoin within a second.
    settings = IndexSettings(kafka_bootstrap=running_stack.bootstrap, session_timeout_ms=6000,
                             heartbeat_interval_ms=1000, max_poll_interval_ms=20000, retry_backoff_max_s=1.0,
                             empty_fetch_backoff_ms=50)
    sink = ControlledSink()
    host = SinkHost(SinkStage(name="index", source_topic=topic, write=sink.write, batch_size=50),
                    settings, group, Health("index"), poll_timeout_ms=100)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            host.step()

    runner = threading.Thread(target=loop, daemon=True)
    runner.start()
    try:
        wait_until(lambda: sink.attempts >= 2, timeout_s=60, what="the host holding a batch while the sink is down")

        # A second member joins (the group rebalances), then leaves (it rebalances again and
        # both partitions come back to the first consumer), all while the sink is down.
        def second_member() -> KafkaConsumer:
            return KafkaConsumer(topic, bootstrap_servers=running_stack.bootstrap, group_id=group,
                                 enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                 max_poll_interval_ms=20000)

        members = [second_member()]

        def second_member_assigned() -> bool:
            try:
                return members[-1].poll(timeout_ms=200) is not None and bool(members[-1].assignment())
            except struct.error:
                # noida-db once answered this member's SyncGroup with an empty assignment, which
                # kafka-python cannot decode: that member is dropped and another one joins.
                members[-1].close(autocommit=False)
                members.append(second_member())
                return False

        wait_until(second_member_assigned, timeout_s=120, what="the second consumer getting partitions")
        members[-1].close(autocommit=False)
        wait_until(lambda: len(host.consumer.assignment()) == 2, timeout_s=120,
                   what="both partitions back with the first consumer")

        sink.down = False
        wait_until(lambda: set(sink.written) >= set(ids), timeout_s=60, what="every story written")
        wait_until(lambda: host.committed.get((topic, 0)) == 6 and host.committed.get((topic, 1)) == 5,
                   timeout_s=30, what="offsets committed to the end of both partitions")
    finally:
        stop.set()
        runner.join(timeout=10)
        host.close()
    assert set(sink.written) == set(ids), f"never written: {sorted(set(ids) - set(sink.written))}"
