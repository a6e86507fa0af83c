"""Publishes parsed stories to news.raw and waits until Kafka has them (acks=all).

A story counts as accepted only once every in-sync replica acknowledged it, so
an HTTP 202 or a CLI "accepted" means it will reach the index.
"""

from __future__ import annotations

import asyncio

from kafka import KafkaProducer

from shared.contract import Story
from shared.deadletter import DeadLetter
from shared.kafka_io import make_producer, send_confirmed
from shared.messages import encode_story
from shared.settings import CommonSettings


class StoryPublisher:
    def __init__(self, settings: CommonSettings, client_id: str = "wirestream-ingest") -> None:
        self.topic = settings.topic_raw
        self.producer: KafkaProducer = make_producer(settings, client_id=client_id)

    def _send(self, story: Story):
        record = encode_story(story)
        return self.producer.send(self.topic, key=record.key, value=record.value, headers=record.headers)

    def publish(self, stories: list[Story], timeout_s: float = 30.0) -> None:
        """Blocking: returns when every story is acknowledged, raises if one failed."""
        send_confirmed(self.producer, self.topic, [encode_story(s) for s in stories], timeout_s)

    def publish_dead_letters(self, letters: list[DeadLetter], topic: str, timeout_s: float = 30.0) -> None:
        """Blocking, like publish: unusable items nobody can be answered about
        (a feed's broken entries) are recorded with their reason, never just logged."""
        send_confirmed(self.producer, topic, [letter.to_record() for letter in letters], timeout_s)

    async def publish_async(self, stories: list[Story]) -> None:
        """For the HTTP server: awaits the acknowledgements without blocking the event loop."""
        loop = asyncio.get_running_loop()
        waiting = []
        for story in stories:
            done = loop.create_future()
            future = self._send(story)
            future.add_callback(lambda metadata, done=done: loop.call_soon_threadsafe(_resolve, done, metadata))
            future.add_errback(lambda exc, done=done: loop.call_soon_threadsafe(_fail, done, exc))
            waiting.append(done)
        await asyncio.gather(*waiting)

    def connected(self) -> bool:
        """Kafka answers metadata for our topic (blocking: call it off the event loop)."""
        try:
            return bool(self.producer.partitions_for(self.topic))
        except Exception:  # noqa: BLE001 - any failure means "not connected" for health purposes
            return False

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
