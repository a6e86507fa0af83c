"""Publishes parsed stories to news.raw and waits until Kafka has them (acks=all).

A story counts as accepted only once every in-sync replica acknowledged it, so
an HTTP 202 or a CLI "accepted" means it will reach the index.

Two guards keep one bad record from taking the publisher down for everyone:
- no record larger than the broker's limit (less the enrichment reserve) is ever
  sent: the limit is read from the broker at start-up and every encoded record is
  measured before sending (callers refuse such stories earlier, see admission.py;
  this is the backstop);
- a producer that went into a fatal state anyway (kafka-python's idempotent
  producer aborts every later batch after one broker refusal it cannot retry) is
  closed and replaced before the next send, and `state()` says so for /healthz.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor

from kafka import KafkaProducer

from shared import metrics
from shared.contract import Story
from shared.deadletter import DeadLetter
from shared.kafka_io import broker_max_message_bytes, make_producer, producer_fatal_error, send_confirmed
from shared.messages import OutRecord, encode_story
from shared.settings import CommonSettings
from services.ingest.admission import StoryLimits

log = logging.getLogger(__name__)


class StoryTooLarge(ValueError):
    """A record the broker would refuse (and that would poison the producer): never sent."""


class StoryPublisher:
    def __init__(self, settings: CommonSettings, client_id: str = "wirestream-ingest",
                 limits: StoryLimits | None = None) -> None:
        self.settings = settings
        self.client_id = client_id
        self.topic = settings.topic_raw
        # The producer first: with no broker it fails at once (KafkaError), which callers report.
        self.producer: KafkaProducer = make_producer(settings, client_id=client_id)
        # Read once at start-up: the broker's limit decides what ingest may accept.
        self.limits = limits or StoryLimits(broker_max_message_bytes(settings))
        self._lock = threading.Lock()
        self.replacements = 0
        self.last_fatal_error: str | None = None
        self.replace_error: str | None = None  # set while a fatal producer could not be replaced

    # -- sending ---------------------------------------------------------------
    def encode(self, stories: list[Story]) -> list[OutRecord]:
        records = [encode_story(story) for story in stories]
        for story, record in zip(stories, records):
            if len(record.value) > self.limits.max_story_bytes:
                raise StoryTooLarge(f"story {story.id}: {self.limits.too_large(story)}")
        return records

    def publish(self, stories: list[Story], timeout_s: float = 30.0) -> None:
        """Blocking: returns when every story is acknowledged, raises if one failed."""
        self._send_confirmed(self.topic, self.encode(stories), timeout_s)

    def publish_dead_letters(self, letters: list[DeadLetter], topic: str, timeout_s: float = 30.0) -> None:
        """Blocking, like publish: unusable items nobody can be answered about
        (a feed's broken entries) are recorded with their reason, never just logged."""
        self._send_confirmed(topic, [letter.to_record() for letter in letters], timeout_s)

    def _send_confirmed(self, topic: str, records: list[OutRecord], timeout_s: float) -> None:
        producer = self.usable_producer()
        try:
            send_confirmed(producer, topic, records, timeout_s)
        except Exception as exc:
            self._check_fatal(producer, exc)
            raise

    async def publish_async(self, stories: list[Story], executor: Executor | None = None) -> None:
        """For the HTTP server: encoding and handing records to the producer (which can
        block while its buffer is full) run in `executor`; the acknowledgements are
        awaited without blocking the event loop."""
        loop = asyncio.get_running_loop()
        producer, futures = await loop.run_in_executor(executor, self._send_all, stories)
        waiting = []
        for future in futures:
            done = loop.create_future()
            future.add_callback(lambda metadata, done=done: loop.call_soon_threadsafe(_resolve, done, metadata))
            future.add_errback(lambda exc, done=done: loop.call_soon_threadsafe(_fail, done, exc))
            waiting.append(done)
        try:
            await asyncio.gather(*waiting)
        except Exception as exc:
            self._check_fatal(producer, exc)
            raise

    def _send_all(self, stories: list[Story]):
        records = self.encode(stories)
        producer = self.usable_producer()
        try:
            return producer, [producer.send(self.topic, key=r.key, value=r.value, headers=r.headers)
                              for r in records]
        except Exception as exc:
            self._check_fatal(producer, exc)
            raise

    # -- the producer's health -------------------------------------------------------
    def _check_fatal(self, producer: KafkaProducer, failure: BaseException | None = None) -> None:
        """Replace `producer` now if `failure` (or its own state) says it can send nothing more."""
        fatal = producer_fatal_error(producer, failure)
        if fatal is None:
            return
        with self._lock:
            if producer is not self.producer:
                return  # another thread replaced it already
            self._note_fatal_locked(fatal)
            self._replace_locked()

    def usable_producer(self) -> KafkaProducer:
        """The producer, replaced first if it is in a fatal state or an earlier replacement
        failed; raises when no working producer can be made (Kafka unreachable)."""
        with self._lock:
            self._ensure_usable_locked()
            if self.replace_error is not None:
                raise ConnectionError(f"no usable Kafka producer: {self.replace_error}")
            return self.producer

    def check(self) -> bool:
        """For the health loop: replace a producer found in a fatal state (so the fatal
        state lasts until the next check or send, never until a restart) and say whether
        a working producer exists."""
        with self._lock:
            self._ensure_usable_locked()
            return self.replace_error is None

    def _ensure_usable_locked(self) -> None:
        if self.replace_error is None:
            fatal = producer_fatal_error(self.producer)
            if fatal is None:
                return
            self._note_fatal_locked(fatal)
        self._replace_locked()

    def _note_fatal_locked(self, fatal: BaseException) -> None:
        self.last_fatal_error = repr(fatal)
        metrics.FAILURES.labels("ingest", "producer_fatal").inc()
        log.error("Kafka producer %s is in a fatal state (%r); replacing it", self.client_id, fatal)

    def _replace_locked(self) -> None:
        old = self.producer
        try:
            old.close(timeout=0)  # its batches are failed already; do not wait on them
        except Exception as exc:  # noqa: BLE001 - a broken producer may fail to close; it is dropped anyway
            log.warning("closing the failed producer raised %r", exc)
        try:
            self.producer = make_producer(self.settings, client_id=self.client_id)
        except Exception as exc:  # noqa: BLE001 - Kafka unreachable: say so, try again on the next send
            self.replace_error = repr(exc)
            log.error("could not replace the Kafka producer: %r", exc)
            return
        self.replace_error = None
        self.replacements += 1

    def state(self) -> dict[str, object]:
        """What /healthz shows about the producer."""
        with self._lock:
            if self.replace_error is not None:
                status = f"fatal, not replaced: {self.replace_error}"
            else:
                status = "ok"
            return {"producer": status, "producer_replacements": self.replacements,
                    "producer_last_fatal_error": self.last_fatal_error}

    def connected(self) -> bool:
        """Kafka answers metadata for our topic (blocking: call it off the event loop)."""
        try:
            return bool(self.producer.partitions_for(self.topic))
        except Exception:  # noqa: BLE001 - any failure means "not connected" for health purposes
            return False

    def close(self) -> None:
        try:
            self.producer.flush()
        finally:
            self.producer.close()


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
