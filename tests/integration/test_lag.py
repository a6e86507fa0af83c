"""Consumer lag is visible, also when a stage is not running (issue 11 item 1)."""

from __future__ import annotations

import json
import uuid

from services import stack
from tests.integration.conftest import search_ids, wait_until

STORIES = 12


def test_lag_grows_while_every_extract_replica_is_stopped_and_drains_after(running_stack, es):
    names = [name for name in stack.health_urls(running_stack.config) if name.startswith("extract")]
    for name in names:
        stack.stop_service(running_stack.config, name)
    try:
        run = uuid.uuid4().hex[:8]
        ids = []
        for i in range(STORIES):
            status, body = running_stack.post("/v1/items", json.dumps(
                {"guid": f"lag-{run}-{i}", "source": "TEST", "headline": f"Lag {run} {i}",
                 "body": "Officials in Rome said on Monday that nothing was enriched yet."}).encode())
            assert status == 202
            ids.append(body["id"])
        # With extract stopped, none of these stories can be committed by its group: its lag
        # holds them all once langdetect has passed them on. (Compared with a reading taken
        # just after the stop, this raced the stopping replica's last commit and the reporter's
        # 10 s period.)
        wait_until(lambda: running_stack.metric("ingest", 'wirestream_group_lag{group="wirestream-extract"')
                   >= STORIES, timeout_s=90, what="extract's group lag growing on ingest's /metrics")
    finally:
        for name in names:
            stack.start_service(running_stack.config, name)
    wait_until(lambda: len(search_ids(es, ids)) == STORIES, timeout_s=180, what="the stories once extract is back")
    wait_until(lambda: running_stack.metric("ingest", 'wirestream_group_lag{group="wirestream-extract"') == 0,
               timeout_s=90, what="extract's lag back to 0")
    assert running_stack.metric("extract", "wirestream_consumer_lag") == 0


def test_the_embedded_stack_trims_what_the_intermediate_topics_readers_committed(running_stack, es):
    """noida-db rewrites its whole Kafka state: the intermediate topics are kept down to what
    their reader has not committed; news.raw, the archive, keeps everything."""
    from kafka import KafkaConsumer, TopicPartition

    run = uuid.uuid4().hex[:8]
    ids = []
    for i in range(6):
        status, body = running_stack.post("/v1/items", json.dumps(
            {"guid": f"trim-{run}-{i}", "source": "TEST", "headline": f"Trim {run} {i}",
             "body": "Officials in Vienna said on Monday that the topic would be trimmed."}).encode())
        assert status == 202
        ids.append(body["id"])
    wait_until(lambda: len(search_ids(es, ids)) == len(ids), timeout_s=120, what="the stories searchable")
    consumer = KafkaConsumer(bootstrap_servers=running_stack.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        def starts(topic: str) -> int:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            return sum(consumer.beginning_offsets(partitions).values())

        wait_until(lambda: starts("news.detected") > 0 and starts("news.enriched") > 0, timeout_s=60,
                   what="consumed records deleted from both intermediate topics")
        assert starts("news.raw") == 0, "the archive is never trimmed"
    finally:
        consumer.close()


def test_the_group_watchdog_sees_a_partition_that_no_member_fetches(running_stack):
    """A group whose members never received part of their assignment (noida-db after SIGKILLed
    replicas rejoined): the records of partition 1 wait and no member reports lag. The
    watchdog reads the group's committed offsets from the broker and calls for a restart;
    partition 0, caught up, and a group with nothing to read, are left alone."""
    import threading
    import time

    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from shared.runner import group_watch
    from shared.settings import CommonSettings

    run = uuid.uuid4().hex[:8]
    topic, group = f"watch-{run}", f"watch-group-{run}"
    admin = KafkaAdminClient(bootstrap_servers=running_stack.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=running_stack.bootstrap)
    for i in range(3):
        producer.send(topic, value=f"waiting {i}".encode(), partition=1)
    producer.flush()
    producer.close()

    settings = CommonSettings(kafka_bootstrap=running_stack.bootstrap, stall_after_s=0.5)
    calls: list[str] = []
    stop = threading.Event()
    try:
        group_watch.start(settings, group, topic, "extract", waiting=lambda: False, stop=stop, interval_s=0.2,
                          on_stalled=calls.append)
        wait_until(lambda: calls, timeout_s=30, what="the watchdog calling for a restart")
    finally:
        stop.set()
    assert f"{topic}[1] lag 3" in calls[0] and f"{topic}[0]" not in calls[0]
    assert f"group {group}" in calls[0]

    # Waiting on purpose (downstream down) demands no progress of anyone.
    quiet: list[str] = []
    stop = threading.Event()
    try:
        group_watch.start(settings, group, topic, "extract", waiting=lambda: True, stop=stop, interval_s=0.2,
                          on_stalled=quiet.append)
        time.sleep(3)
    finally:
        stop.set()
    assert quiet == []
