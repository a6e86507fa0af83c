"""The latest dead letters, read from the end of the dead-letter topic.

A consumer without a group (assign + seek), so reading never commits offsets or
joins a group that an operator's replay tool might use. The desk shows what failed,
why and where it came from; the payload itself (hostile or binary) is never shown,
only its size: `wirestream deadletter` and the topic have it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

REASON_CHARS = 1000


def shape(value: bytes, partition: int, offset: int) -> dict:
    """One dead-letter record as the page shows it: metadata and reason, no payload."""
    try:
        body = json.loads(value)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return {"service": None, "reason_class": "unreadable", "reason": "dead-letter record is not JSON",
                "origin": {}, "story_id": None, "failed_at": None, "payload_bytes": len(value),
                "at": {"partition": partition, "offset": offset}}
    origin = body.get("origin") if isinstance(body.get("origin"), dict) else {}
    payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
    return {
        "service": _text(body.get("service")),
        "reason_class": _text(body.get("reason_class")),
        "reason": (_text(body.get("reason")) or "")[:REASON_CHARS],
        "origin": {key: origin.get(key) for key in ("topic", "partition", "offset", "key")},
        "story_id": _text(body.get("story_id")),
        "failed_at": _text(body.get("failed_at")),
        "payload_bytes": len(str(payload.get("data", ""))),
        "at": {"partition": partition, "offset": offset},
    }


def _text(value) -> str | None:
    return None if value is None else str(value)


class DeadLetterTail:
    def __init__(self, bootstrap: str, topic: str, limit: int, cache_s: float = 3.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.limit = limit
        self.cache_s = cache_s
        self._consumer: KafkaConsumer | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deadletters")  # one consumer, one thread
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def latest(self) -> dict:
        async with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_s:
                return self._cached[1]
            result = await asyncio.get_running_loop().run_in_executor(self._executor, self._read)
            self._cached = (time.monotonic(), result)
            return result

    def _read(self) -> dict:
        try:
            records = self._tail()
            return {"topic": self.topic, "records": records, "error": None}
        except (KafkaError, OSError, ValueError) as exc:
            self._close()
            log.warning("dead letters unreadable: %s", exc)
            return {"topic": self.topic, "records": [],
                    "error": f"Kafka is unreachable at {self.bootstrap} ({type(exc).__name__})"}

    def _tail(self) -> list[dict]:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap.split(","), group_id=None, enable_auto_commit=False,
                client_id="wirestream-desk",
                max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024,
            )
        consumer = self._consumer
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            return []
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        wanted = {}
        for tp in tps:
            first = max(starts.get(tp, 0) or 0, (ends.get(tp, 0) or 0) - self.limit)
            if first < (ends.get(tp, 0) or 0):
                consumer.seek(tp, first)
                wanted[tp] = ends[tp]
        records = []
        deadline = time.monotonic() + 5
        while wanted and time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=300, max_records=500).items():
                for record in batch:
                    if record.offset < wanted.get(tp, 0):
                        records.append(shape(record.value, record.partition, record.offset))
            wanted = {tp: end for tp, end in wanted.items() if consumer.position(tp) < end}
        records.sort(key=lambda r: (r["failed_at"] or "", r["at"]["offset"]), reverse=True)
        return records[:self.limit]

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # noqa: BLE001 (closing a broken client must not hide the first error)
                pass
            self._consumer = None

    def close(self) -> None:
        self._executor.submit(self._close).result(timeout=10)
        self._executor.shutdown(wait=False)
