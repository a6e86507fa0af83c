"""SinkHost (the index service's loop) with a fake consumer, producer and sink:
offsets are committed only after the write and the dead letters are confirmed."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from shared.contract import Story
from shared.deadletter import MAX_PAYLOAD_BYTES, DeadLetter, Origin
from shared.kafka_io import MAX_REQUEST_BYTES
from shared.messages import encode_story
from shared.observability import Health
from shared.runner import Rejected
from shared.runner import kafka_host
from shared.runner.kafka_host import DeadLetterNotStored, SinkHost
from shared.runner.stage import SinkStage, TransientWriteError, WriteReport
from shared.settings import IndexSettings


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list


class FakeConsumer:
    def __init__(self, batches):
        self.batches = list(batches)
        self.commits: list[dict] = []
        self._paused: set = set()

    def unsubscribe(self):
        pass

    def subscribe(self, topics, listener=None):
        pass

    def poll(self, timeout_ms=0):
        return self.batches.pop(0) if self.batches else {}

    def assignment(self):
        return {("news.enriched", 0)}

    def pause(self, *tps):
        self._paused.update(tps)

    def resume(self, *tps):
        self._paused.difference_update(tps)

    def paused(self):
        return set(self._paused)

    def seek(self, tp, offset):
        pass

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


def _records(*offsets: int) -> dict:
    out = []
    for offset in offsets:
        story = Story(id=f"s{offset}", headline=f"Story {offset}", body="Body.")
        encoded = encode_story(story)
        out.append(FakeRecord("news.enriched", 0, offset, encoded.key, encoded.value, encoded.headers))
    return {("news.enriched", 0): out}


def _host(monkeypatch, consumer, producer, write) -> SinkHost:
    monkeypatch.setattr(kafka_host, "make_consumer", lambda *a, **k: consumer)
    monkeypatch.setattr(kafka_host, "make_producer", lambda *a, **k: producer)
    stage = SinkStage(name="index", source_topic="news.enriched", write=write, batch_size=10)
    return SinkHost(stage, IndexSettings(), "wirestream-index", Health("index"), poll_timeout_ms=10)


def _step(host: SinkHost, polls: int = 1) -> None:
    """What run() does per iteration, without its endless loop."""
    for _ in range(polls):
        polled = host.consumer.poll(timeout_ms=10)
        if polled and host.pending is None:
            host.pending = kafka_host.PendingBatch(records=[kafka_host._in_record(r) for rs in polled.values() for r in rs])
        if host.pending is not None:
            host._try_batch(host.pending)


def test_offsets_are_committed_after_the_write(monkeypatch):
    written: list[list[str]] = []
    consumer = FakeConsumer([_records(0, 1, 2)])
    host = _host(monkeypatch, consumer, FakeProducer(), lambda stories: written.append([s.id for s in stories]) or WriteReport())
    _step(host)
    assert written == [["s0", "s1", "s2"]]
    assert consumer.commits == [{("news.enriched", 0): 3}]


def test_an_unavailable_sink_commits_nothing_and_keeps_the_batch(monkeypatch):
    def down(stories):
        raise TransientWriteError("connection refused")

    consumer = FakeConsumer([_records(0, 1)])
    host = _host(monkeypatch, consumer, FakeProducer(), down)
    _step(host)
    assert consumer.commits == []
    assert host.pending is not None and host.pending.attempts == 1
    assert consumer.paused(), "partitions paused while the sink is down"


def test_rejected_stories_are_dead_lettered_before_the_commit(monkeypatch):
    consumer = FakeConsumer([_records(4, 5)])
    producer = FakeProducer()
    host = _host(monkeypatch, consumer, producer,
                 lambda stories: WriteReport(rejected={1: Rejected("elasticsearch_rejected", "mapper_parsing_exception")}))
    _step(host)
    assert [(topic, json.loads(value)["origin"]["offset"]) for topic, value in producer.sent] == [("news.deadletter", 5)]
    assert consumer.commits == [{("news.enriched", 0): 6}]


def test_a_dead_letter_kafka_did_not_take_stops_the_commit(monkeypatch):
    consumer = FakeConsumer([_records(7, 8)])
    producer = FakeProducer(fail_with=RuntimeError("NotEnoughReplicas"))
    host = _host(monkeypatch, consumer, producer,
                 lambda stories: WriteReport(rejected={0: Rejected("elasticsearch_rejected", "too many nested")}))
    with pytest.raises(DeadLetterNotStored):
        _step(host)
    assert consumer.commits == [], "committing would lose the rejected story"


def _letter(payload: bytes) -> DeadLetter:
    return DeadLetter(service="index", reason="too big", reason_class="elasticsearch_rejected",
                      origin=Origin("news.enriched", 0, 9, "k"), payload=payload)


def test_a_huge_payload_is_cut_in_the_dead_letter_and_says_so():
    payload = ("é" * (MAX_PAYLOAD_BYTES)).encode("utf-8")  # 2 bytes a character: the cut splits one
    record = _letter(payload).to_record()
    body = json.loads(record.value)
    assert len(record.value) < MAX_REQUEST_BYTES
    assert body["payload_truncated"] == {"kept_bytes": MAX_PAYLOAD_BYTES, "original_bytes": len(payload)}
    assert body["payload"]["encoding"] == "utf-8"  # still readable text after the cut
    assert set(body["payload"]["data"]) == {"é"}


def test_the_worst_escaping_still_fits_a_kafka_request():
    record = _letter(b"\x01" * (8 * 1024 * 1024)).to_record()  # each escapes to six bytes
    assert len(record.value) < MAX_REQUEST_BYTES
    assert json.loads(record.value)["payload_truncated"]["original_bytes"] == 8 * 1024 * 1024


def test_a_small_payload_is_kept_whole():
    body = json.loads(_letter(b'{"headline": "x"}').to_record().value)
    assert "payload_truncated" not in body
    assert body["payload"] == {"encoding": "utf-8", "data": '{"headline": "x"}'}
