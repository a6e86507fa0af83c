"""Hosts a TransformStage as a faust-streaming agent (langdetect, extract).

The chain per batch: take up to N events -> decode -> process (in a worker
process) -> send results and dead letters -> wait until Kafka acknowledged every
send -> only then are the events acked, and faust commits acked offsets
(it also flushes its producer before each commit). Two batches may be in
flight, so the worker processes one while the other's results are sent.

Why a worker process: spaCy can hold the CPU for seconds; run on the event
loop (or in a thread, holding the GIL) it would starve aiokafka's heartbeats,
the group would evict the consumer, rebalance, and redo the work (a classic
Kafka NLP failure). In its own process it cannot, however slow a batch is.

Failures, by class (shared/runner/failures.py):
- item: a story the stage refuses or raises on, a record too large for the broker,
  a record Kafka refuses for its content: dead-lettered, and the stream goes on.
- systemic: the stage raising on `systemic_after_failures` stories in a row, none
  succeeding: the batch is held (not sent, not acked, not dead-lettered), the service
  is marked not ready, and the batch is processed again after a backoff.
- transient: Kafka not acknowledging a send: the sends are retried after a backoff.
Either kind of wait ends, past `downstream_give_up_s`, in a crash-only exit (nothing
acked past the last confirmed send), and the supervisor restarts the service. So does
a worker that sits on one batch past `stage_deadline_s`, and a held partition whose
committed offset stops moving while it has lag (`stall_after_s`).

SIGTERM: stop taking, finish the batches in flight for at most `shutdown_grace_s`,
commit what was acked, exit. faust's own shutdown waited ~60 s for aiokafka's fetch
task; nothing it does after our commit matters, so we do not wait for it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import faust

from shared import deadletter, metrics
from shared.connection_security import faust_app_kwargs
from shared.fetch_backoff import install_for_aiokafka
from shared.kafka_io import (MAX_REQUEST_BYTES, bootstrap_servers, broker_max_message_bytes, compression,
                             ensure_topics)
from shared.limits import max_record_value_bytes
from shared.messages import OutRecord
from shared.observability import Health, serve_observability
from shared.runner import worker_process
from shared.runner.adaptive_take import adaptive_noack_take
from shared.runner.chain import Decoded, InRecord, dead_letter, decode_records
from shared.runner.crash_only import exit_now
from shared.runner.failures import EXIT_STUCK, Backoff, ConsecutiveFailures
from shared.runner.invalid_ratio import InvalidRatioGuard
from shared.runner import group_watch
from shared.runner.progress import PartitionProgress
from shared.runner.stage import PROCESSING_ERROR, Rejected, TransformStage
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

# Batches handed to the worker process and not yet sent on: with two, one is
# processed while the other's results are sent, so the worker never waits for
# Kafka; more would only hold more stories in memory.
MAX_BATCHES_IN_FLIGHT = 2
PROGRESS_EVERY_S = 5.0
WORK_UNIT_BYTES = 250_000  # the stage deadline is per started 250 KB of a batch's text
DOWNSTREAM = "downstream"
# Errors with which Kafka refuses one record for what it is, not for a passing state.
_ITEM_SEND_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "InvalidRecordError",
                     "CorruptRecordError", "CorruptRecordException", "RecordListTooLargeError")


@dataclass
class InFlight:
    events: list
    decoded: Decoded
    results: asyncio.Future  # the worker process's results, in the order of decoded.stories
    started: float
    generation: int = 0  # which worker process the batch was handed to (see StageWorker)


class StageTimeout(Exception):
    """The worker took longer than its budget for a batch (hung, or a story it cannot finish)."""


class StageWorker:
    """The stage's worker process, replaced when it hangs or dies.

    The host supervises its worker the way supervisord supervises the host: a worker
    that sits on a batch past its budget, or that died (killed, out of memory), is
    killed and replaced by a fresh one with the models loaded again, and the host
    carries on. The host does not exit for it: a story that hangs the stage would
    hang the restarted service too, and restart it for ever."""

    def __init__(self, stage: TransformStage, start=None) -> None:
        self.stage = stage
        self._start = start or start_worker_process
        self.pool = self._start(stage)
        self.pid = self.pool.submit(os.getpid).result()
        self.generation = 0
        self._replacing: asyncio.Lock | None = None

    def submit(self, stories) -> tuple[asyncio.Future, int]:
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(self.pool, worker_process.run, stories), self.generation
        except (BrokenProcessPool, RuntimeError) as exc:  # broken, or shut down by a replacement
            failed = loop.create_future()
            failed.set_exception(BrokenProcessPool(str(exc)))
            return failed, self.generation

    async def replace(self, generation: int, why: str) -> None:
        """Kill the worker of `generation` and start a new one (once, however many batches
        found it broken)."""
        self._replacing = self._replacing or asyncio.Lock()
        async with self._replacing:
            if generation != self.generation:
                return  # another batch already had it replaced
            log.warning("%s: replacing the worker process %s: %s", self.stage.name, self.pid, why)
            metrics.WORKER_REPLACEMENTS.labels(self.stage.name).inc()
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pool.shutdown(wait=False, cancel_futures=True)
            loop = asyncio.get_running_loop()
            self.pool = await loop.run_in_executor(None, self._start, self.stage)
            self.pid = await loop.run_in_executor(None, lambda: self.pool.submit(os.getpid).result())
            self.generation += 1

    def alive(self) -> bool:
        return _alive(self.pid)


def _headers(message) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    if isinstance(headers, dict):
        headers = headers.items()
    return [(key, value) for key, value in headers]


def _in_record(event) -> InRecord:
    message = event.message
    return InRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=_headers(message),
    )


def start_worker_process(stage: TransformStage) -> ProcessPoolExecutor:
    """One worker process with the stage's models loaded, ready before we join the group."""
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a process with threads
        initializer=worker_process.initialize,
        initargs=(stage.make_process,),
    )
    if not pool.submit(worker_process.ready).result():
        raise RuntimeError(f"{stage.name}: worker process did not initialise")
    return pool


class TransformHost:
    """The per-batch logic around the faust agent: everything but faust's wiring."""

    def __init__(self, stage: TransformStage, settings: CommonSettings, health: Health,
                 worker: StageWorker | None, max_value_bytes: int) -> None:
        self.stage = stage
        self.settings = settings
        self.health = health
        self.worker = worker
        self.max_value_bytes = max_value_bytes
        self.guard = InvalidRatioGuard(settings.max_invalid_ratio, settings.invalid_window, stage.name)
        self.failing = ConsecutiveFailures(settings.systemic_after_failures)
        self.backoff = Backoff(max_s=settings.retry_backoff_max_s, give_up_s=settings.downstream_give_up_s)
        self.progress = PartitionProgress(stage.name, settings.stall_after_s)
        self.batch_starts: collections.deque[tuple[float, float]] = collections.deque()  # (started, budget)
        self.previous_done = 0.0  # when the worker last handed back a batch
        self.stopping = False
        self.in_flight = 0

    def submit(self, stories) -> tuple[asyncio.Future, int]:
        return self.worker.submit(stories)

    def budget_s(self, stories) -> float:
        """`stage_deadline_s` per started 250 KB of text: a batch of long stories legitimately
        takes longer (NER on a 900 KB number-heavy story took 35-44 s, ~11 s per 250 KB, on
        a quiet core), and a deadline that did not grow with it would give up on it."""
        text_bytes = sum(len(story.headline) + len(story.body) for story in stories)
        return self.settings.stage_deadline_s * max(1, -(-text_bytes // WORK_UNIT_BYTES))

    def decode(self, events) -> Decoded:
        decoded = decode_records(self.stage.name, [_in_record(event) for event in events], self.guard)
        if self.guard.tripped:
            log.error("%s: %s", self.stage.name, self.guard.describe())
            self.health.not_ready("invalid_ratio", self.guard.describe())
        else:
            self.health.ready("invalid_ratio")
        return decoded

    async def results_of(self, batch: InFlight) -> list:
        """The worker's results for a batch. A worker that hangs on it (past its budget) or
        dies is replaced; a batch it hung on is processed again one story at a time, so
        the story at fault is dead-lettered (stage_timeout) and the rest go on."""
        stories = batch.decoded.stories
        started = max(batch.started, self.previous_done)  # it waited behind the batch before it
        try:
            return await self._await(stories, batch.results, batch.generation, self.budget_s(stories), started)
        except StageTimeout as exc:
            log.warning("%s: %s; processing its %d stories one at a time", self.stage.name, exc, len(stories))
            return await self._one_at_a_time(stories)
        finally:
            self.previous_done = time.perf_counter()

    async def _await(self, stories, future, generation: int, budget: float, started: float) -> list:
        for _ in range(2):
            remaining = budget - (time.perf_counter() - started)
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.1, remaining))
            except asyncio.TimeoutError:
                await self.worker.replace(generation, f"it held a batch of {len(stories)} for {budget:.0f}s")
                raise StageTimeout(f"the stage took more than {budget:.0f}s "
                                   f"(stage_deadline_s per started 250 KB of text)") from None
            except BrokenProcessPool:
                await self.worker.replace(generation, "it died")
                future, generation = self.submit(stories)
                started = time.perf_counter()
        raise StageTimeout("the worker died twice on this batch")

    async def _one_at_a_time(self, stories) -> list:
        results = []
        for story in stories:
            future, generation = self.submit([story])
            budget = self.budget_s([story])
            try:
                results.extend(await self._await([story], future, generation, budget, time.perf_counter()))
            except StageTimeout as exc:
                size = len(story.headline) + len(story.body)
                results.append(Rejected("stage_timeout", f"{exc} on this story alone ({size} characters)"))
        return results

    async def results_held_until_not_systemic(self, batch: InFlight) -> list:
        """The worker's results; while the stage fails systemically, the batch is processed
        again after a backoff instead of being dead-lettered story by story."""
        while True:
            results = await self.results_of(batch)
            failed = sum(1 for r in results if isinstance(r, Rejected) and r.reason_class == PROCESSING_ERROR)
            self.failing.record(failed, len(results) - failed)
            if not (failed and self.failing.tripped()):
                return results
            first = next(r for r in results if isinstance(r, Rejected) and r.reason_class == PROCESSING_ERROR)
            metrics.SYSTEMIC_FAILURES.labels(self.stage.name, PROCESSING_ERROR).inc()
            await self._wait_out("stage fails on every story", first.reason)
            self.failing.count = 0  # judge the retry on its own
            batch.results, batch.generation = self.submit(batch.decoded.stories)
            batch.started = time.perf_counter()

    def outputs(self, batch: InFlight, results: list) -> tuple[list[tuple[InRecord, OutRecord]], list[OutRecord]]:
        """(records to forward with the record each came from, dead letters); a result the
        broker would refuse for its size is a dead letter instead."""
        forward, dead = [], list(batch.decoded.dead)
        for origin, story, result in zip(batch.decoded.records, batch.decoded.stories, results):
            if not isinstance(result, Rejected) and len(result.value) > self.max_value_bytes:
                result = Rejected("record_too_large",
                                  f"the {self.stage.name} output is {len(result.value)} bytes; the broker takes "
                                  f"at most {self.max_value_bytes}")
            if isinstance(result, Rejected):
                dead.append(dead_letter(self.stage.name, origin, result, story.id))
            else:
                forward.append((origin, result))
        return forward, dead

    async def send_all(self, sink, deadletter_topic, forward: list[tuple[InRecord, OutRecord]],
                       dead: list[OutRecord]) -> None:
        """Every record acknowledged, or dead-lettered if Kafka refuses it for what it is;
        transient refusals are retried after a backoff (until give-up)."""
        pending = [(sink, origin, record) for origin, record in forward]
        pending += [(deadletter_topic, None, record) for record in dead]
        while pending:
            outcomes = await asyncio.gather(*[self._send(topic, record) for topic, _, record in pending],
                                            return_exceptions=True)
            retry = []
            for (topic, origin, record), outcome in zip(pending, outcomes):
                if not isinstance(outcome, BaseException):
                    continue
                if type(outcome).__name__ in _ITEM_SEND_ERRORS and origin is not None:
                    # Kafka refuses this record for what it is: dead-letter it, go on.
                    reason = Rejected("kafka_refused", f"{type(outcome).__name__}: {outcome}"[:2000])
                    letter = dead_letter(self.stage.name, origin, reason, record.key.decode("utf-8", "replace"))
                    retry.append((deadletter_topic, None, letter, None))
                else:
                    retry.append((topic, origin, record, outcome))
            pending = [(topic, origin, record) for topic, origin, record, _ in retry]
            failures = [outcome for *_, outcome in retry if outcome is not None]
            if failures:
                await self._wait_out("Kafka did not acknowledge a send", repr(failures[0]))
        self.backoff.reset()
        self.health.ready(DOWNSTREAM)

    @staticmethod
    async def _send(topic, record: OutRecord):
        return await (await topic.send(key=record.key, value=record.value, headers=record.headers))

    async def _wait_out(self, what: str, reason: str) -> None:
        delay = self.backoff.failed()
        self.health.not_ready(DOWNSTREAM, f"{what}: {reason}"[:500])
        log.warning("%s: %s (%s); retry %d in %.1fs", self.stage.name, what, reason, self.backoff.attempts, delay)
        if self.backoff.exhausted():
            exit_now(EXIT_STUCK, f"{self.stage.name}: {what} for {self.backoff.outage_s():.0f}s "
                                 f"(downstream_give_up_s): {reason}")
        metrics.DOWNSTREAM_RETRIES.labels(self.stage.name).inc()
        await asyncio.sleep(delay)

    def check_deadline(self) -> None:
        """Liveness of the event loop, and a last resort: the worker is replaced when it hangs
        (results_of); if even that does not end a batch, the service exits."""
        oldest = time.perf_counter() - self.batch_starts[0][0] if self.batch_starts else 0.0
        budget = self.batch_starts[0][1] if self.batch_starts else 0.0
        if self.batch_starts and oldest >= 4 * budget + 300 and self.backoff.attempts == 0:
            exit_now(EXIT_STUCK, f"{self.stage.name}: one batch has been in flight for {oldest:.0f}s")
        self.health.beat(oldest_batch_age_s=round(oldest, 1),
                         worker_pid=self.worker.pid if self.worker else None)

    def waiting_on_purpose(self) -> bool:
        """Backing off, or the worker still within its budget for a long batch: no progress is due."""
        oldest = time.perf_counter() - self.batch_starts[0][0] if self.batch_starts else 0.0
        busy = bool(self.batch_starts) and oldest < self.batch_starts[0][1]
        return self.backoff.attempts > 0 or busy

    async def check_progress(self, app: faust.App) -> None:
        consumer = app.consumer
        assigned = consumer.assignment()
        ends: dict = {}
        if assigned:
            try:
                ends = await consumer.highwaters(*assigned)
            except Exception as exc:  # noqa: BLE001 - lag is best effort; never stop the stream for it
                log.debug("end offsets unavailable: %r", exc)
        sample, committed = {}, {}
        for tp in assigned:
            key = (tp.topic, tp.partition)
            fetched = consumer.highwater(tp)
            sample[key] = max([o for o in (ends.get(tp), fetched) if o is not None], default=None)
            committed[key] = consumer._committed_offset.get(tp)  # faust's own record of its commits
        lags = self.progress.observe(sample, committed, waiting=self.waiting_on_purpose())
        stalled = self.progress.stalled(lags)
        if stalled:
            exit_now(EXIT_STUCK, f"{self.stage.name}: partitions stopped moving: {'; '.join(stalled)}")


def build_app(stage: TransformStage, settings: CommonSettings, group_id: str, host: TransformHost) -> faust.App:
    app = faust.App(
        group_id,  # faust's app id is the consumer group: replicas share the work
        broker=[f"kafka://{server}" for server in bootstrap_servers(settings)],
        key_serializer="raw",
        value_serializer="raw",
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.heartbeat_interval_ms / 1000,
        broker_max_poll_interval=settings.max_poll_interval_ms / 1000,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.instance_id,
        producer_acks=-1,
        producer_compression_type=compression(settings),
        producer_max_request_size=MAX_REQUEST_BYTES,
        consumer_max_fetch_size=MAX_REQUEST_BYTES,
        topic_allow_declare=False,  # topics are created by ensure_topics with our partition count
        topic_disable_leader=True,  # no faust-internal leader topic: we use no tables
        web_enabled=False,  # our own /metrics and /healthz instead
        store="memory://",
        datadir=tempfile.mkdtemp(prefix=f"wirestream-{stage.name}-"),
        **faust_app_kwargs(settings),  # SASL/TLS to Kafka, when configured
    )
    source = app.topic(stage.source_topic, key_type=bytes, value_type=bytes)
    sink = app.topic(stage.sink_topic, key_type=bytes, value_type=bytes)
    dead_topic = app.topic(settings.topic_deadletter, key_type=bytes, value_type=bytes)

    @app.agent(source, name=f"{stage.name}-agent")
    async def run_stage(stream):
        # Two steps, so Kafka work overlaps the worker's: this loop decodes a batch
        # and hands it to the worker process; `finish_batches` takes the results
        # in order, sends them and acks. While one batch's results are sent, the
        # worker already processes the next. The slots bound the batches in
        # flight, so a slow worker stops the taking instead of growing memory.
        in_flight: asyncio.Queue = asyncio.Queue()
        slots = asyncio.Semaphore(MAX_BATCHES_IN_FLIGHT)
        finisher = asyncio.ensure_future(finish_batches(stream, in_flight, slots))
        try:
            async for events in adaptive_noack_take(stream, stage.batch_size, stage.batch_wait_s):
                if host.stopping:
                    continue  # taken, never acked: read again after the restart
                started = time.perf_counter()
                decoded = host.decode(events)
                await slots.acquire()
                host.in_flight += 1
                host.batch_starts.append((started, host.budget_s(decoded.stories)))
                future, generation = host.submit(decoded.stories)
                in_flight.put_nowait(InFlight(list(events), decoded, future, started, generation))
        finally:
            finisher.cancel()

    async def finish_batches(stream, in_flight: asyncio.Queue, slots: asyncio.Semaphore) -> None:
        while True:
            batch: InFlight = await in_flight.get()
            try:
                results = await host.results_held_until_not_systemic(batch)
                forward, dead = host.outputs(batch, results)
                # Delivery confirmed (acks=all) before the events are acked; faust
                # commits an offset only when every offset before it is acked too.
                await host.send_all(sink, dead_topic, forward, dead)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here: exit uncommitted, redelivered on restart
                log.exception("%s: batch failed outside the stage", stage.name)
                exit_now(EXIT_STUCK, f"{stage.name}: batch failed outside the stage: {exc!r}")
            for event in batch.events:
                await stream.ack(event)
            host.batch_starts.popleft()
            host.in_flight -= 1
            slots.release()
            metrics.MESSAGES_OUT.labels(stage.name).inc(len(forward))
            metrics.BATCH_SIZE.labels(stage.name).observe(len(batch.events))
            metrics.BATCH_SECONDS.labels(stage.name).observe(time.perf_counter() - batch.started)

    @app.timer(interval=2.0)
    async def heartbeat():
        host.check_deadline()

    @app.timer(interval=PROGRESS_EVERY_S)
    async def progress():
        await host.check_progress(app)

    return app


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


class _Worker(faust.Worker):
    """faust's worker with a fast, committing stop on SIGTERM/SIGINT (see module doc)."""

    wirestream_host: TransformHost

    def _on_sigterm(self) -> None:
        asyncio.ensure_future(self._stop_fast("SIGTERM"))

    def _on_sigint(self) -> None:
        asyncio.ensure_future(self._stop_fast("SIGINT"))

    async def _stop_fast(self, why: str) -> None:
        host = self.wirestream_host
        if host.stopping:
            return
        host.stopping = True
        deadline = time.monotonic() + host.settings.shutdown_grace_s
        while host.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(self.app.consumer.commit(), timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - not committed: the restart redoes it
            log.warning("%s: commit on %s failed (%r); the restart reads from the last commit",
                        host.stage.name, why, exc)
        log.info("%s: stopped on %s (%d batch(es) left unfinished)", host.stage.name, why, host.in_flight)
        exit_now(0, f"{host.stage.name}: {why}")


def run_transform(stage: TransformStage, settings: CommonSettings, group_id: str, metrics_port: int) -> None:
    ensure_topics(settings)
    install_for_aiokafka(settings.empty_fetch_backoff_ms)
    broker_limit = broker_max_message_bytes(settings, stage.sink_topic)
    deadletter.set_record_limit(broker_limit)
    health = Health(stage.name)
    serve_observability(health, settings.metrics_host, metrics_port)
    host = TransformHost(stage, settings, health, StageWorker(stage), max_record_value_bytes(broker_limit))
    app = build_app(stage, settings, group_id, host)
    group_watch.start(settings, group_id, stage.source_topic, stage.name, host.waiting_on_purpose)
    worker = _Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.wirestream_host = host
    worker.execute_from_commandline()
