"""Hosts a SinkStage on a kafka-python consumer (the index service).

The chain: poll -> decode -> write (Elasticsearch bulk) -> dead-letter what the
sink refused -> flush the dead letters -> commit the batch's offsets. Offsets
are committed only after the write and the dead letters are confirmed, so a
crash anywhere before replays the batch; deterministic ids make that harmless.

Backpressure: when the sink is unavailable the batch is kept, every assigned
partition is paused and the loop keeps polling (paused partitions return
nothing, but the consumer stays in its group) until the retry time comes. The
loop never sleeps, so heartbeats and rebalances keep working.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError

from shared import metrics
from shared.kafka_io import ensure_topics, make_consumer, make_producer, send_confirmed
from shared.observability import Health, serve_observability
from shared.runner.chain import Decoded, InRecord, dead_letter, decode_records
from shared.runner.invalid_ratio import InvalidRatioGuard
from shared.runner.stage import SinkStage, TransientWriteError
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

DEAD_LETTER_ACK_TIMEOUT_S = 30.0  # past kafka-python's own request timeout and retries


class DeadLetterNotStored(RuntimeError):
    """Kafka refused or lost a dead letter: committing now would lose its story."""


@dataclass
class PendingBatch:
    records: list[InRecord]
    attempts: int = 0
    retry_at: float = 0.0
    decoded: Decoded | None = None  # decoded once, kept across retries


class _DropPendingOnRevoke(ConsumerRebalanceListener):
    """A paused batch whose partitions move to another consumer is theirs now."""

    def __init__(self, host: "SinkHost") -> None:
        self.host = host

    def on_partitions_revoked(self, revoked):
        if self.host.pending is not None and revoked:
            log.info("partitions revoked while a batch waited; it will be redelivered to the new owner")
            self.host.pending = None
            self.host.resume_all()

    def on_partitions_assigned(self, assigned):
        if self.host.pending is not None and assigned:
            self.host.pause_all()  # still backing off: new partitions wait too


class SinkHost:
    def __init__(self, stage: SinkStage, settings: CommonSettings, group_id: str, health: Health,
                 poll_timeout_ms: int = 500, retry_backoff_max_s: float = 30.0) -> None:
        self.stage = stage
        self.settings = settings
        self.health = health
        self.poll_timeout_ms = poll_timeout_ms
        self.retry_backoff_max_s = retry_backoff_max_s
        self.guard = InvalidRatioGuard(settings.max_invalid_ratio, settings.invalid_window)
        self.consumer = make_consumer(settings, group_id, [stage.source_topic], max_poll_records=stage.batch_size)
        self.consumer.unsubscribe()
        self.consumer.subscribe([stage.source_topic], listener=_DropPendingOnRevoke(self))
        self.producer = make_producer(settings, client_id=f"{group_id}-deadletter")
        self.pending: PendingBatch | None = None
        self.running = True
        self.empty_fetch_backoff_ms = settings.empty_fetch_backoff_ms
        self.idle_until: float | None = None

    # -- the loop -------------------------------------------------------------
    def run(self) -> None:
        while self.running:
            polled = self.consumer.poll(timeout_ms=self._next_poll_timeout_ms())
            self.health.beat(paused=bool(self.pending))
            if not polled and self.pending is None:
                self._idle_backoff()
            if polled and self.pending is None:
                self.pending = PendingBatch(records=[_in_record(r) for rs in polled.values() for r in rs])
            elif polled:
                self._rewind(polled)
            if self.pending is not None and time.monotonic() >= self.pending.retry_at:
                self._try_batch(self.pending)
        self.close()

    def _next_poll_timeout_ms(self) -> int:
        if self.idle_until is None:
            return self.poll_timeout_ms if not self.empty_fetch_backoff_ms else 50
        remaining_ms = int((self.idle_until - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            self.idle_until = None
            if self.pending is None:  # a backpressure pause outlives the idle one
                self.resume_all()
            return 50
        return remaining_ms  # paused: this poll waits without fetching

    def _idle_backoff(self) -> None:
        # The broker answered an empty fetch at once (see shared/fetch_backoff.py):
        # pause fetching for a moment, the same mechanism as backpressure.
        if self.empty_fetch_backoff_ms and self.idle_until is None:
            self.idle_until = time.monotonic() + self.empty_fetch_backoff_ms / 1000
            assigned = self.consumer.assignment()
            if assigned:
                self.consumer.pause(*assigned)

    def _try_batch(self, batch: PendingBatch) -> None:
        started = time.perf_counter()
        if batch.decoded is None:
            batch.decoded = decode_records(self.stage.name, batch.records, self.guard)
        decoded = batch.decoded
        try:
            report = self.stage.write(decoded.stories) if decoded.stories else None
        except TransientWriteError as exc:
            batch.attempts += 1
            delay = min(self.retry_backoff_max_s, 0.5 * 2 ** min(batch.attempts, 10))
            batch.retry_at = time.monotonic() + delay
            metrics.DOWNSTREAM_RETRIES.labels(self.stage.name).inc()
            log.warning("sink unavailable (%s); pausing, retry %d in %.1fs", exc, batch.attempts, delay)
            self.pause_all()
            return
        dead = list(decoded.dead)
        written = len(decoded.stories)
        if report is not None:
            for position, rejected in report.rejected.items():
                record, story = decoded.records[position], decoded.stories[position]
                dead.append(dead_letter(self.stage.name, record, rejected, story.id))
            written -= len(report.rejected) + len(report.stale)
            if report.stale:
                metrics.STALE_VERSIONS.inc(len(report.stale))
        self._send_dead_letters(dead)
        self._commit(batch.records)
        metrics.MESSAGES_OUT.labels(self.stage.name).inc(written)
        metrics.BATCH_SIZE.labels(self.stage.name).observe(len(batch.records))
        metrics.BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
        self.pending = None
        self.resume_all()

    def _send_dead_letters(self, dead: list) -> None:
        """Every dead letter acknowledged (acks=all) before the batch is committed.

        A dead letter Kafka did not take raises DeadLetterNotStored: the process
        exits uncommitted and the batch is replayed on restart, instead of its
        rejected stories being lost."""
        try:
            send_confirmed(self.producer, self.settings.topic_deadletter, dead, DEAD_LETTER_ACK_TIMEOUT_S)
        except Exception as exc:
            raise DeadLetterNotStored(f"dead letter not acknowledged: {exc!r}") from exc

    def _commit(self, records: list[InRecord]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            next_offset = record.offset + 1
            if tp not in offsets or offsets[tp].offset < next_offset:
                offsets[tp] = OffsetAndMetadata(next_offset, "", -1)
        try:
            self.consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced under us; the new owner replays these records and
            # the deterministic _id makes the replay an overwrite, not a duplicate.
            log.warning("commit failed after a rebalance (records will be replayed): %s", exc)

    def _rewind(self, polled) -> None:
        # Records that arrived while a batch still waits (a partition assigned
        # mid-backoff): hand them back, never skip them.
        for tp, records in polled.items():
            self.consumer.seek(tp, records[0].offset)
        self.pause_all()

    # -- backpressure -----------------------------------------------------------
    def pause_all(self) -> None:
        self.idle_until = None
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(*assigned)
        metrics.PAUSED_PARTITIONS.labels(self.stage.name).set(len(assigned))

    def resume_all(self) -> None:
        paused = self.consumer.paused()
        if paused:
            self.consumer.resume(*paused)
        metrics.PAUSED_PARTITIONS.labels(self.stage.name).set(0)

    def stop(self, *_: object) -> None:
        self.running = False

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
        self.consumer.close(autocommit=False)


def _in_record(record) -> InRecord:
    return InRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers or []),
    )


def run_sink(stage: SinkStage, settings: CommonSettings, group_id: str, metrics_port: int,
             poll_timeout_ms: int = 500, retry_backoff_max_s: float = 30.0) -> None:
    ensure_topics(settings)
    health = Health(stage.name)
    serve_observability(health, settings.metrics_host, metrics_port)
    host = SinkHost(stage, settings, group_id, health, poll_timeout_ms, retry_backoff_max_s)
    signal.signal(signal.SIGTERM, host.stop)
    signal.signal(signal.SIGINT, host.stop)
    log.info("%s consuming %s as group %s", stage.name, stage.source_topic, group_id)
    host.run()
