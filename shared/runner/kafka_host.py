"""Hosts a SinkStage on a kafka-python consumer (the index service).

The chain: poll -> decode -> write (Elasticsearch bulk) -> dead-letter what the
sink refused for good -> confirm the dead letters -> commit the batch's offsets.
Offsets are committed only after the write and the dead letters are confirmed,
so a crash anywhere before replays the batch; deterministic ids make that harmless.

Failures, by class (shared/runner/failures.py):
- transient (the sink is down or overloaded) and systemic (the sink refuses every
  write, or refuses story after story): the batch is kept uncommitted, every assigned
  partition is paused, the service is marked not ready with the reason, and the loop
  keeps polling (paused partitions return nothing, but the consumer stays in its
  group) until the retry time. It never sleeps, so heartbeats and rebalances keep
  working. Past `downstream_give_up_s` the service exits and is restarted.
- item: dead-lettered with the reason; a record refused transiently on its own more
  than `max_item_attempts` times is dead-lettered as transient_exhausted.

Rebalances: a batch whose partitions are revoked is dropped, and every partition
assigned afterwards is sought back to its first uncommitted record, so nothing a
dropped batch held is skipped even when the partition comes back to this consumer
(kafka-python keeps the fetch position of a partition it keeps).
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field

from kafka import AsyncConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from shared import deadletter, metrics
from shared.fetch_backoff import install_for_kafka_python
from shared.kafka_io import broker_max_message_bytes, ensure_topics, make_consumer, make_producer, send_confirmed
from shared.observability import Health, serve_observability
from shared.runner.chain import Decoded, InRecord, dead_letter, decode_records
from shared.runner.crash_only import exit_now
from shared.runner.failures import EXIT_STUCK, TRANSIENT_EXHAUSTED, Backoff, ConsecutiveFailures
from shared.runner.invalid_ratio import InvalidRatioGuard
from shared.runner import group_watch
from shared.runner.progress import PartitionProgress
from shared.runner.stage import Rejected, SinkStage, SystemicWriteError, TransientWriteError
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

DEAD_LETTER_ACK_TIMEOUT_S = 30.0  # past kafka-python's own request timeout and retries
PROGRESS_EVERY_S = 5.0
DOWNSTREAM = "downstream"  # the readiness cause this host reports


class DeadLetterNotStored(RuntimeError):
    """Kafka refused or lost a dead letter: committing now would lose its story."""


@dataclass
class PendingBatch:
    records: list[InRecord]
    retry_at: float = 0.0
    decoded: Decoded | None = None  # decoded once, kept across retries
    todo: list[int] | None = None  # positions in decoded.stories still to write (None: all)
    item_attempts: dict[int, int] = field(default_factory=dict)
    dead: list = field(default_factory=list)  # dead letters decided so far, sent before the commit
    written: int = 0
    stale: int = 0

    def first_offsets(self) -> dict[tuple[str, int], int]:
        firsts: dict[tuple[str, int], int] = {}
        for record in self.records:
            tp = (record.topic, record.partition)
            firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
        return firsts


class _Rebalance(AsyncConsumerRebalanceListener):
    """Async, because kafka-python 3 runs listeners on its IO loop: the committed
    offsets are fetched with the coordinator's async call, not the blocking one."""

    def __init__(self, host: "SinkHost") -> None:
        self.host = host

    async def on_partitions_revoked(self, revoked):
        self.host.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned):
        committed = {}
        needed = [tp for tp in assigned if (tp.topic, tp.partition) not in self.host._rewind_to]
        if needed:
            try:
                fetched = await self.host.consumer._coordinator.fetch_committed_offsets_async(set(needed))
                committed = {tp: meta.offset for tp, meta in fetched.items() if meta is not None and meta.offset >= 0}
            except KafkaError as exc:
                log.warning("could not read committed offsets on assignment: %r", exc)
        self.host.on_assigned(assigned, committed)


class SinkHost:
    def __init__(self, stage: SinkStage, settings: CommonSettings, group_id: str, health: Health,
                 poll_timeout_ms: int = 500) -> None:
        self.stage = stage
        self.settings = settings
        self.health = health
        self.poll_timeout_ms = poll_timeout_ms
        self.guard = InvalidRatioGuard(settings.max_invalid_ratio, settings.invalid_window, stage.name)
        self.consumer = make_consumer(settings, group_id, [stage.source_topic], max_poll_records=stage.batch_size)
        self.consumer.unsubscribe()
        self.consumer.subscribe([stage.source_topic], listener=_Rebalance(self))
        self.producer = make_producer(settings, client_id=f"{group_id}-deadletter")
        self.pending: PendingBatch | None = None
        self.running = True
        self.backoff = Backoff(max_s=settings.retry_backoff_max_s, give_up_s=settings.downstream_give_up_s)
        self.consecutive_refusals = ConsecutiveFailures(settings.systemic_after_failures)
        self.progress = PartitionProgress(stage.name, settings.stall_after_s)
        self.committed: dict[tuple[str, int], int | None] = {}
        self._rewind_to: dict[tuple[str, int], int] = {}  # first offsets of a batch dropped on revoke
        self._next_progress = 0.0

    # -- the loop -------------------------------------------------------------
    def run(self) -> None:
        while self.running:
            self.step()
        self.close()

    def step(self) -> None:
        polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms)
        self.health.beat(paused=self.pending is not None)
        if polled and self.pending is None:
            self.pending = PendingBatch(records=[_in_record(r) for rs in polled.values() for r in rs])
        elif polled:
            self._hand_back(polled)
        if self.pending is not None and time.monotonic() >= self.pending.retry_at:
            self._try_batch(self.pending)
        if self.stage.tick is not None:
            self.stage.tick()
        if time.monotonic() >= self._next_progress:
            self._next_progress = time.monotonic() + PROGRESS_EVERY_S
            self._check_progress()

    def _try_batch(self, batch: PendingBatch) -> None:
        started = time.perf_counter()
        if batch.decoded is None:
            batch.decoded = decode_records(self.stage.name, batch.records, self.guard)
            batch.dead.extend(batch.decoded.dead)
            batch.todo = list(range(len(batch.decoded.stories)))
            if self.guard.tripped:
                log.error("%s: %s", self.stage.name, self.guard.describe())
        decoded, todo = batch.decoded, batch.todo or []
        if todo:
            try:
                report = self.stage.write([decoded.stories[p] for p in todo])
            except TransientWriteError as exc:
                return self._hold(batch, "sink unavailable", str(exc))
            except SystemicWriteError as exc:
                metrics.SYSTEMIC_FAILURES.labels(self.stage.name, exc.reason_class).inc()
                return self._hold(batch, "sink refuses every write", exc.reason)
            if report.retry and len(report.retry) == len(todo) and batch.written == 0:
                # Nothing of this batch accepted: the sink is overloaded or down, not this record.
                return self._hold(batch, "sink refused every document for now", next(iter(report.retry.values())))
            refused = [todo[i] for i in report.rejected]
            if refused and self._refusing_everything(len(refused), len(todo) - len(refused) - len(report.retry)):
                metrics.SYSTEMIC_FAILURES.labels(self.stage.name, "every_document_refused").inc()
                reason = next(iter(report.rejected.values())).reason
                return self._hold(batch, f"sink refused {self.consecutive_refusals.count} documents in a row",
                                  reason)
            for i, rejected in report.rejected.items():
                batch.dead.append(self._dead(decoded, todo[i], rejected))
            batch.stale += len(report.stale)
            batch.written += len(todo) - len(report.rejected) - len(report.stale) - len(report.retry)
            batch.todo = self._retry_items(batch, todo, report.retry)
            if batch.todo:
                batch.retry_at = time.monotonic() + self.backoff.failed()
                metrics.DOWNSTREAM_RETRIES.labels(self.stage.name).inc()
                return
        self._send_dead_letters(batch.dead)
        self._commit(batch.records)
        if batch.stale:
            metrics.STALE_VERSIONS.inc(batch.stale)
        metrics.MESSAGES_OUT.labels(self.stage.name).inc(batch.written)
        metrics.BATCH_SIZE.labels(self.stage.name).observe(len(batch.records))
        metrics.BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
        self.pending = None
        self.backoff.reset()
        self.health.ready(DOWNSTREAM)
        self.resume_all()

    def _refusing_everything(self, refused: int, succeeded: int) -> bool:
        self.consecutive_refusals.record(refused, succeeded)
        return self.consecutive_refusals.tripped()

    def _retry_items(self, batch: PendingBatch, todo: list[int], retry: dict[int, str]) -> list[int]:
        """Items refused for now while others of the batch went through (so the sink is up):
        again later, up to max_item_attempts, then dead-lettered as transient_exhausted. An
        outage (nothing accepted) never counts against a record: see _try_batch."""
        again = []
        for i, reason in retry.items():
            position = todo[i]
            attempts = batch.item_attempts.get(position, 1) + 1
            batch.item_attempts[position] = attempts
            if attempts > self.settings.max_item_attempts:
                rejected = Rejected("elasticsearch_retry_exhausted", reason, TRANSIENT_EXHAUSTED, attempts - 1)
                batch.dead.append(self._dead(batch.decoded, position, rejected))
            else:
                again.append(position)
        return again

    def _dead(self, decoded: Decoded, position: int, rejected: Rejected):
        return dead_letter(self.stage.name, decoded.records[position], rejected, decoded.stories[position].id)

    def _hold(self, batch: PendingBatch, what: str, reason: str) -> None:
        """Keep the batch uncommitted, pause, retry later; give up (exit) past the outage limit."""
        delay = self.backoff.failed()
        batch.retry_at = time.monotonic() + delay
        metrics.DOWNSTREAM_RETRIES.labels(self.stage.name).inc()
        self.health.not_ready(DOWNSTREAM, f"{what}: {reason}"[:500])
        log.warning("%s: %s (%s); holding %d records, retry %d in %.1fs", self.stage.name, what, reason,
                    len(batch.records), self.backoff.attempts, delay)
        if self.backoff.exhausted():
            exit_now(EXIT_STUCK, f"{self.stage.name}: {what} for {self.backoff.outage_s():.0f}s "
                                 f"(downstream_give_up_s): {reason}")
        self.pause_all()

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
            return
        for tp, meta in offsets.items():
            self.committed[(tp.topic, tp.partition)] = meta.offset

    def _hand_back(self, polled) -> None:
        # Records that arrived while a batch still waits (a partition assigned
        # mid-backoff): hand them back, never skip them.
        for tp, records in polled.items():
            self.consumer.seek(tp, records[0].offset)
        self.pause_all()

    # -- rebalances -----------------------------------------------------------------
    def on_revoked(self, revoked) -> None:
        if self.pending is not None and revoked:
            log.info("partitions revoked while a batch waited; it is dropped and read again by whoever owns them")
            for tp, offset in self.pending.first_offsets().items():
                self._rewind_to[tp] = min(offset, self._rewind_to.get(tp, offset))
            self.pending = None
        for tp in revoked:
            self.committed.pop((tp.topic, tp.partition), None)

    def on_assigned(self, assigned, committed: dict | None = None) -> None:
        """Seek every assigned partition to its first record not yet committed (or the
        first record of a batch dropped on revoke), whatever kafka-python fetched before."""
        committed = committed or {}
        for tp in assigned:
            key = (tp.topic, tp.partition)
            offset = self._rewind_to.pop(key, None)
            if offset is None and tp in committed:
                offset = committed[tp]
                self.committed[key] = offset
            if offset is not None:
                self.consumer.seek(tp, offset)
        self._rewind_to.clear()  # partitions that went elsewhere are read from their commit by their owner
        self.resume_all()

    def _committed_offset(self, tp: TopicPartition) -> int | None:
        try:
            offset = self.consumer.committed(tp)
        except KafkaError as exc:
            log.warning("could not read the committed offset of %s: %r", tp, exc)
            return None
        self.committed[(tp.topic, tp.partition)] = offset
        return offset

    # -- lag and stalls ---------------------------------------------------------------
    def waiting_on_purpose(self) -> bool:
        """Holding a batch while the sink is down or refusing: no progress is due."""
        return self.pending is not None and self.backoff.attempts > 0

    def _check_progress(self) -> None:
        assigned = self.consumer.assignment()
        if not assigned:
            self.progress.observe({}, {})
            return
        try:
            ends = self.consumer.end_offsets(list(assigned))
        except KafkaError as exc:
            log.debug("end offsets unavailable: %r", exc)
            ends = {}
        sample, committed = {}, {}
        for tp in assigned:
            key = (tp.topic, tp.partition)
            highwater = self.consumer.highwater(tp)
            end = max([o for o in (ends.get(tp), highwater) if o is not None], default=None)
            sample[key] = end
            committed[key] = self.committed[key] if key in self.committed else self._committed_offset(tp)
        lags = self.progress.observe(sample, committed, waiting=self.waiting_on_purpose())
        stalled = self.progress.stalled(lags)
        if stalled:
            exit_now(EXIT_STUCK, f"{self.stage.name}: partitions stopped moving: {'; '.join(stalled)}")

    # -- backpressure -----------------------------------------------------------
    def pause_all(self) -> None:
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
             poll_timeout_ms: int = 500) -> None:
    ensure_topics(settings)
    install_for_kafka_python(settings.empty_fetch_backoff_ms)
    deadletter.set_record_limit(broker_max_message_bytes(settings, settings.topic_deadletter))
    health = Health(stage.name)
    serve_observability(health, settings.metrics_host, metrics_port)
    host = SinkHost(stage, settings, group_id, health, poll_timeout_ms)
    group_watch.start(settings, group_id, stage.source_topic, stage.name, host.waiting_on_purpose)
    signal.signal(signal.SIGTERM, host.stop)
    signal.signal(signal.SIGINT, host.stop)
    log.info("%s consuming %s as group %s", stage.name, stage.source_topic, group_id)
    host.run()
