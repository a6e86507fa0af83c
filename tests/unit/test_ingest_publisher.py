"""The publisher never sends a record the broker would refuse, and replaces a producer
that went into kafka-python's fatal state (issue 9 item 0). The producer here is a
fake that behaves as kafka-python 3's idempotent producer was seen to behave against
noida-db: after one MessageSizeTooLargeError every later send fails too.
(tests/integration/test_ingest_limits.py shows the same with the real client and broker.)"""

from __future__ import annotations

import asyncio

import pytest
from kafka.errors import KafkaConnectionError, MessageSizeTooLargeError

import services.ingest.publisher as publisher_module
from shared.contract import Story
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES
from shared.settings import IngestSettings
from services.ingest.admission import StoryLimits
from services.ingest.publisher import StoryPublisher, StoryTooLarge


class FakeFuture:
    def __init__(self, error: Exception | None):
        self.error = error

    def get(self, timeout=None):
        if self.error:
            raise self.error
        return "metadata"

    def add_callback(self, callback):
        if not self.error:
            callback("metadata")
        return self

    def add_errback(self, errback):
        if self.error:
            errback(self.error)
        return self


class FakeTransactionManager:
    def __init__(self):
        self.last_error = None

    def has_fatal_error(self):
        return self.last_error is not None


class PoisonableProducer:
    """Refuses records over `broker_limit`, and from then on refuses everything."""

    instances: list["PoisonableProducer"] = []

    def __init__(self, broker_limit: int = KAFKA_DEFAULT_MAX_MESSAGE_BYTES):
        self.broker_limit = broker_limit
        self._transaction_manager = FakeTransactionManager()
        self.sent: list[bytes] = []
        self.closed = False
        PoisonableProducer.instances.append(self)

    def send(self, topic, key=None, value=None, headers=None):
        if self._transaction_manager.last_error is None and len(value) > self.broker_limit:
            self._transaction_manager.last_error = MessageSizeTooLargeError()
        if self._transaction_manager.last_error is not None:
            return FakeFuture(self._transaction_manager.last_error)
        self.sent.append(value)
        return FakeFuture(None)

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        self.closed = True

    def partitions_for(self, topic):
        return {0}


@pytest.fixture
def producers(monkeypatch):
    PoisonableProducer.instances = []
    monkeypatch.setattr(publisher_module, "make_producer", lambda settings, client_id: PoisonableProducer())
    monkeypatch.setattr(publisher_module, "broker_max_message_bytes", lambda settings: KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
    return PoisonableProducer.instances


def _story(guid: str, body_bytes: int = 10) -> Story:
    return Story(id=guid, guid=guid, source="AFP", headline="H", body="x" * body_bytes)


def test_a_record_over_the_limit_is_never_sent(producers):
    publisher = StoryPublisher(IngestSettings())
    assert publisher.limits.max_story_bytes < KAFKA_DEFAULT_MAX_MESSAGE_BYTES  # read from the broker at start
    with pytest.raises(StoryTooLarge, match="exceeds the limit of"):
        publisher.publish([_story("big", 1_200_000)])
    assert producers[0].sent == [] and producers[0]._transaction_manager.last_error is None
    publisher.publish([_story("small")])
    assert len(producers[0].sent) == 1


def test_a_producer_in_a_fatal_state_is_replaced_and_the_next_story_goes_through(producers):
    # A broker whose limit is lower than what was read at start-up (its config changed): the
    # record goes out, the broker refuses it, and the producer is poisoned.
    publisher = StoryPublisher(IngestSettings(), limits=StoryLimits(8 * 1024 * 1024))
    with pytest.raises(MessageSizeTooLargeError):
        publisher.publish([_story("big", 1_200_000)])
    publisher.publish([_story("small")])  # before the fix: MessageSizeTooLargeError forever
    assert len(producers) == 2 and producers[0].closed
    assert len(producers[1].sent) == 1
    state = publisher.state()
    assert state["producer"] == "ok" and state["producer_replacements"] == 1
    assert "MessageSizeTooLargeError" in state["producer_last_fatal_error"]


def test_the_http_path_replaces_a_poisoned_producer_too(producers):
    publisher = StoryPublisher(IngestSettings(), limits=StoryLimits(8 * 1024 * 1024))

    async def run():
        with pytest.raises(MessageSizeTooLargeError):
            await publisher.publish_async([_story("big", 1_200_000)])
        await publisher.publish_async([_story("small")])

    asyncio.run(run())
    assert len(producers) == 2 and len(producers[1].sent) == 1


def test_health_check_replaces_a_fatal_producer_and_reports_when_it_cannot(producers, monkeypatch):
    publisher = StoryPublisher(IngestSettings())
    producers[0]._transaction_manager.last_error = MessageSizeTooLargeError()  # poisoned by someone

    def unreachable(settings, client_id):
        raise KafkaConnectionError("no broker")

    monkeypatch.setattr(publisher_module, "make_producer", unreachable)
    assert publisher.check() is False
    assert publisher.state()["producer"].startswith("fatal, not replaced: KafkaConnectionError")
    with pytest.raises(ConnectionError, match="no usable Kafka producer"):
        publisher.publish([_story("small")])
    monkeypatch.setattr(publisher_module, "make_producer", lambda settings, client_id: PoisonableProducer())
    assert publisher.check() is True
    publisher.publish([_story("small")])
    assert publisher.state()["producer"] == "ok" and publisher.state()["producer_replacements"] == 1
