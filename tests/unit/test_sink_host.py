"""SinkHost (the index service's loop) with a fake consumer, producer and sink:
offsets are committed only after the write and the dead letters are confirmed,
and each failure class is handled as shared/runner/failures.py says."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from kafka import TopicPartition

from shared.contract import Story
from shared.deadletter import DeadLetter, Origin
from shared.messages import encode_story
from shared.observability import Health
from shared.runner import Rejected
from shared.runner import kafka_host
from shared.runner.kafka_host import DeadLetterNotStored, SinkHost
from shared.runner.stage import SinkStage, SystemicWriteError, TransientWriteError, WriteReport
from shared.settings import IndexSettings

TOPIC = "news.enriched"


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list


class FakeConsumer:
    def __init__(self, batches, partitions=(0,)):
        self.batches = list(batches)
        self.commits: list[dict] = []
        self.seeks: list[tuple[int, int]] = []
        self._paused: set = set()
        self.listener = None
        self._assigned = {TopicPartition(TOPIC, p) for p in partitions}

    def unsubscribe(self):
        pass

    def subscribe(self, topics, listener=None):
        self.listener = listener

    def poll(self, timeout_ms=0):
        if not self.batches:
            return {}
        batch = self.batches.pop(0)
        return {tp: records for tp, records in batch.items() if tp not in self._paused}

    def assignment(self):
        return set(self._assigned)

    def pause(self, *tps):
        self._paused.update(tps)

    def resume(self, *tps):
        self._paused.difference_update(tps)

    def paused(self):
        return set(self._paused)

    def seek(self, tp, offset):
        self.seeks.append((tp.partition, offset))

    def committed(self, tp):
        for commit in reversed(self.commits):
            if (tp.topic, tp.partition) in commit:
                return commit[(tp.topic, tp.partition)]
        return None

    def highwater(self, tp):
        return None

    def end_offsets(self, tps):
        return {}

    def commit(self, offsets):
        self.commits.append({(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()})

    def close(self, autocommit=False):
        pass


class FakeFuture:
    def __init__(self, error: Exception | None):
        self.error = error

    def get(self, timeout=None):
        if self.error:
            raise self.error
        return None


class FakeProducer:
    def __init__(self, fail_with: Exception | None = None):
        self.fail_with = fail_with
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, value))
        return FakeFuture(self.fail_with)

    def flush(self, timeout=None):
        pass  # like kafka-python's: never raises for a failed record

    def close(self):
        pass


def _records(*offsets: int, partition: int = 0) -> dict:
    out = []
    for offset in offsets:
        story = Story(id=f"s{partition}-{offset}", headline=f"Story {offset}", body="Body.")
        encoded = encode_story(story)
        out.append(FakeRecord(TOPIC, partition, offset, encoded.key, encoded.value, encoded.headers))
    return {TopicPartition(TOPIC, partition): out}


def _host(monkeypatch, consumer, producer, write, **settings) -> SinkHost:
    monkeypatch.setattr(kafka_host, "make_consumer", lambda *a, **k: consumer)
    monkeypatch.setattr(kafka_host, "make_producer", lambda *a, **k: producer)
    stage = SinkStage(name="index", source_topic=TOPIC, write=write, batch_size=10)
    return SinkHost(stage, IndexSettings(**settings), "wirestream-index", Health("index"), poll_timeout_ms=10)


def _step(host: SinkHost, polls: int = 1, retry_now: bool = True) -> None:
    for _ in range(polls):
        if retry_now and host.pending is not None:
            host.pending.retry_at = 0.0
        host.step()


def test_offsets_are_committed_after_the_write(monkeypatch):
    written: list[list[str]] = []
    consumer = FakeConsumer([_records(0, 1, 2)])
    host = _host(monkeypatch, consumer, FakeProducer(), lambda stories: written.append([s.id for s in stories]) or WriteReport())
    _step(host)
    assert written == [["s0-0", "s0-1", "s0-2"]]
    assert consumer.commits == [{(TOPIC, 0): 3}]


def test_an_unavailable_sink_commits_nothing_keeps_the_batch_and_says_why(monkeypatch):
    def down(stories):
        raise TransientWriteError("connection refused")

    consumer = FakeConsumer([_records(0, 1)])
    host = _host(monkeypatch, consumer, FakeProducer(), down)
    _step(host, polls=3)
    assert consumer.commits == []
    assert host.pending is not None and host.backoff.attempts == 3
    assert consumer.paused(), "partitions paused while the sink is down"
    ready, body = host.health.readiness()
    assert not ready and "connection refused" in body["reasons"]["downstream"]
    alive, _ = host.health.live()
    assert alive, "waiting for the sink is not being dead"


def test_the_sink_coming_back_commits_and_makes_the_service_ready(monkeypatch):
    calls = {"n": 0}

    def flaky(stories):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientWriteError("503")
        return WriteReport()

    consumer = FakeConsumer([_records(0, 1)])
    host = _host(monkeypatch, consumer, FakeProducer(), flaky)
    _step(host, polls=2)
    assert consumer.commits == [{(TOPIC, 0): 2}]
    assert host.health.readiness() == (True, {"service": "index", "status": "ready", "reasons": {}})
    assert not consumer.paused()


def test_rejected_stories_are_dead_lettered_before_the_commit(monkeypatch):
    consumer = FakeConsumer([_records(4, 5)])
    producer = FakeProducer()
    host = _host(monkeypatch, consumer, producer,
                 lambda stories: WriteReport(rejected={1: Rejected("elasticsearch_rejected", "mapper_parsing_exception")}))
    _step(host)
    letters = [json.loads(value) for _, value in producer.sent]
    assert [(topic, json.loads(value)["origin"]["offset"]) for topic, value in producer.sent] == [("news.deadletter", 5)]
    assert letters[0]["failure_class"] == "item" and letters[0]["id"] == "index:news.enriched:0:5"
    assert consumer.commits == [{(TOPIC, 0): 6}]


def test_a_dead_letter_kafka_did_not_take_stops_the_commit(monkeypatch):
    consumer = FakeConsumer([_records(7, 8)])
    producer = FakeProducer(fail_with=RuntimeError("NotEnoughReplicas"))
    host = _host(monkeypatch, consumer, producer,
                 lambda stories: WriteReport(rejected={0: Rejected("elasticsearch_rejected", "too many nested")}))
    with pytest.raises(DeadLetterNotStored):
        _step(host)
    assert consumer.commits == [], "committing would lose the rejected story"


def test_a_rebalance_while_the_sink_is_down_reads_the_dropped_batch_again(monkeypatch):
    """Issue 9 item 1: the dropped batch's partitions come back to this consumer with
    kafka-python's fetch position past the batch; the host must seek back."""
    def down(stories):
        raise TransientWriteError("connection refused")

    consumer = FakeConsumer([{**_records(0, 1, 2, partition=0), **_records(10, 11, partition=1)}], partitions=(0, 1))
    host = _host(monkeypatch, consumer, FakeProducer(), down)
    _step(host)
    assert host.pending is not None
    revoked = consumer.assignment()
    host.on_revoked(revoked)
    consumer._assigned = {TopicPartition(TOPIC, 0)}  # a second consumer took partition 1
    host.on_assigned(consumer.assignment(), {TopicPartition(TOPIC, 0): 0})
    assert host.pending is None
    assert consumer.seeks == [(0, 0)], "partition 0 read again from the dropped batch's first record"
    assert consumer.commits == []


def test_a_partition_assigned_without_a_dropped_batch_starts_at_its_commit(monkeypatch):
    consumer = FakeConsumer([])
    host = _host(monkeypatch, consumer, FakeProducer(), lambda stories: WriteReport())
    host.on_assigned({TopicPartition(TOPIC, 3)}, {TopicPartition(TOPIC, 3): 42})
    assert consumer.seeks == [(3, 42)]
    assert host.committed[(TOPIC, 3)] == 42


def test_a_systemic_refusal_is_held_not_dead_lettered(monkeypatch):
    def blocked(stories):
        raise SystemicWriteError("cluster_block_exception", "index [news-v1] blocked by: [FORBIDDEN/8/index write]")

    consumer = FakeConsumer([_records(0, 1, 2)])
    producer = FakeProducer()
    host = _host(monkeypatch, consumer, producer, blocked)
    _step(host, polls=4)
    assert producer.sent == [] and consumer.commits == []
    assert "blocked" in host.health.readiness()[1]["reasons"]["downstream"]


def test_story_after_story_refused_is_systemic(monkeypatch):
    """Issue 9 item 4: a stage that refuses everything must not drain the topic into dead letters."""
    def refuse_all(stories):
        return WriteReport(rejected={i: Rejected("elasticsearch_rejected", "mapper_parsing_exception")
                                     for i in range(len(stories))})

    consumer = FakeConsumer([_records(*range(5))] + [_records(*range(5 + 5 * n, 10 + 5 * n)) for n in range(5)])
    producer = FakeProducer()
    host = _host(monkeypatch, consumer, producer, refuse_all, systemic_after_failures=12)
    _step(host, polls=8)
    assert len(producer.sent) == 10, "the first two batches (10 < 12 in a row) are dead-lettered"
    assert consumer.commits == [{(TOPIC, 0): 5}, {(TOPIC, 0): 10}]
    assert host.pending is not None and host.pending.records[0].offset == 10, "the third is held"
    assert not host.health.readiness()[0]


def test_giving_up_exits_uncommitted(monkeypatch):
    exits = []
    monkeypatch.setattr(kafka_host, "exit_now", lambda code, reason: exits.append((code, reason)))

    def down(stories):
        raise TransientWriteError("connection refused")

    consumer = FakeConsumer([_records(0)])
    host = _host(monkeypatch, consumer, FakeProducer(), down, downstream_give_up_s=1)
    host.backoff._clock = iter([0.0, 0.5, 2.0, 2.0, 2.0, 2.0]).__next__
    _step(host, polls=2)
    assert exits and exits[0][0] == kafka_host.EXIT_STUCK and "connection refused" in exits[0][1]
    assert consumer.commits == []


def test_one_item_refused_for_now_is_retried_then_dead_lettered(monkeypatch):
    """A 429 on one document while the rest go through: retried alone, then given up on."""
    seen: list[list[str]] = []

    def write(stories):
        seen.append([s.id for s in stories])
        return WriteReport(retry={i: "429: es_rejected_execution_exception"
                                  for i, s in enumerate(stories) if s.id == "s0-1"})

    consumer = FakeConsumer([_records(0, 1, 2)])
    producer = FakeProducer()
    host = _host(monkeypatch, consumer, producer, write, max_item_attempts=3)
    _step(host, polls=4)
    assert seen == [["s0-0", "s0-1", "s0-2"], ["s0-1"], ["s0-1"]]
    letter = json.loads(producer.sent[0][1])
    assert letter["failure_class"] == "transient_exhausted" and letter["attempts"] == 3
    assert consumer.commits == [{(TOPIC, 0): 3}]


def test_junk_is_dead_lettered_once_and_never_stops_the_stream(monkeypatch):
    """Issue 9 item 8: a burst of junk trips the invalid-ratio alarm, not the service."""
    junk = {TopicPartition(TOPIC, 0): [FakeRecord(TOPIC, 0, i, b"k", b"\x00junk", []) for i in range(30)]}
    good = _records(30, 31)
    consumer = FakeConsumer([junk, good])
    producer = FakeProducer()
    written = []
    host = _host(monkeypatch, consumer, producer, lambda stories: written.extend(s.id for s in stories) or WriteReport(),
                 invalid_window=10)
    _step(host, polls=2)
    assert len(producer.sent) == 30
    assert written == ["s0-30", "s0-31"]
    assert consumer.commits == [{(TOPIC, 0): 30}, {(TOPIC, 0): 32}]
    assert "30 of the last 10" not in host.guard.describe() and "limit 50.0%" in host.guard.describe()


def _letter(payload: bytes) -> DeadLetter:
    return DeadLetter(service="index", reason="too big", reason_class="elasticsearch_rejected",
                      origin=Origin(TOPIC, 0, 9, "k"), payload=payload)


@pytest.mark.parametrize("limit", [1_000_000, 8 * 1024 * 1024])
def test_a_huge_payload_is_cut_to_fit_the_broker_and_says_so(limit):
    payload = ("é" * limit).encode("utf-8")  # 2 bytes a character: the cut splits one
    record = _letter(payload).to_record(max_bytes=limit)
    body = json.loads(record.value)
    assert len(record.value) <= limit
    assert body["payload_truncated"]["original_bytes"] == len(payload)
    assert body["payload"]["encoding"] == "utf-8"  # still readable text after the cut
    assert set(body["payload"]["data"]) == {"é"}


def test_the_worst_escaping_still_fits_the_broker():
    record = _letter(b"\x01" * (2 * 1024 * 1024)).to_record(max_bytes=1_000_000)  # each escapes to six bytes
    assert len(record.value) <= 1_000_000
    assert json.loads(record.value)["payload_truncated"]["original_bytes"] == 2 * 1024 * 1024


def test_a_small_payload_is_kept_whole():
    body = json.loads(_letter(b'{"headline": "x"}').to_record().value)
    assert "payload_truncated" not in body
    assert body["payload"] == {"encoding": "utf-8", "data": '{"headline": "x"}'}
