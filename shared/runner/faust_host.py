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
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import faust

from shared import metrics
from shared.connection_security import faust_app_kwargs
from shared.fetch_backoff import install_for_aiokafka
from shared.kafka_io import MAX_REQUEST_BYTES, bootstrap_servers, ensure_topics
from shared.observability import Health, serve_observability
from shared.runner import worker_process
from shared.runner.chain import Decoded, InRecord, collect_results, decode_records
from shared.runner.invalid_ratio import InvalidRatioGuard, TooManyInvalid
from shared.runner.stage import TransformStage
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

EXIT_FATAL = 70  # crash-only: a supervisor (compose, the launcher) restarts us; nothing was committed
# Batches handed to the worker process and not yet sent on: with two, one is
# processed while the other's results are sent, so the worker never waits for
# Kafka; more would only hold more stories in memory.
MAX_BATCHES_IN_FLIGHT = 2
# A batch the worker has not finished after this long means a hung worker (a
# 64-story batch takes seconds): health stops beating, /healthz turns 503 once
# the beat is stale, and an orchestrator restarts us; nothing was committed.
BATCH_STALLED_AFTER_S = 120.0


@dataclass
class InFlight:
    events: list
    decoded: Decoded
    results: asyncio.Future  # the worker process's results, in the order of decoded.stories
    started: float


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


def build_app(stage: TransformStage, settings: CommonSettings, group_id: str, health: Health,
              pool: ProcessPoolExecutor) -> faust.App:
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
    deadletter = app.topic(settings.topic_deadletter, key_type=bytes, value_type=bytes)
    guard = InvalidRatioGuard(settings.max_invalid_ratio, settings.invalid_window)
    batch_starts: collections.deque[float] = collections.deque()  # batches in flight, oldest first

    @app.agent(source, name=f"{stage.name}-agent")
    async def run_stage(stream):
        # Two steps, so Kafka work overlaps the worker's: this loop decodes a batch
        # and hands it to the worker process; `finish_batches` takes the results
        # in order, sends them and acks. While one batch's results are sent, the
        # worker already processes the next. The slots bound the batches in
        # flight, so a slow worker stops the taking instead of growing memory.
        loop = asyncio.get_running_loop()
        in_flight: asyncio.Queue = asyncio.Queue()
        slots = asyncio.Semaphore(MAX_BATCHES_IN_FLIGHT)
        finisher = asyncio.ensure_future(finish_batches(stream, in_flight, slots))
        try:
            async for events in stream.noack_take(stage.batch_size, within=stage.batch_wait_s):
                started = time.perf_counter()
                records = [_in_record(event) for event in events]
                try:
                    decoded = decode_records(stage.name, records, guard)
                except TooManyInvalid as exc:
                    log.critical("%s: %s", stage.name, exc)
                    os._exit(EXIT_FATAL)
                await slots.acquire()
                results = loop.run_in_executor(pool, worker_process.run, decoded.stories)
                batch_starts.append(started)
                in_flight.put_nowait(InFlight(list(events), decoded, results, started))
        finally:
            finisher.cancel()

    async def finish_batches(stream, in_flight: asyncio.Queue, slots: asyncio.Semaphore) -> None:
        while True:
            batch: InFlight = await in_flight.get()
            try:
                output = collect_results(stage.name, batch.decoded, await batch.results)
                pending = [
                    await sink.send(key=r.key, value=r.value, headers=r.headers) for r in output.forward
                ] + [
                    await deadletter.send(key=r.key, value=r.value, headers=r.headers) for r in output.dead
                ]
                # Delivery confirmed (acks=all) before the events are acked; faust
                # commits an offset only when every offset before it is acked too.
                await asyncio.gather(*pending)
            except Exception:  # a send that failed for good: exit uncommitted, redelivered on restart
                log.critical("%s: batch failed outside the stage; exiting uncommitted", stage.name, exc_info=True)
                os._exit(EXIT_FATAL)
            for event in batch.events:
                await stream.ack(event)
            batch_starts.popleft()
            slots.release()
            metrics.MESSAGES_OUT.labels(stage.name).inc(len(output.forward))
            metrics.BATCH_SIZE.labels(stage.name).observe(len(batch.events))
            metrics.BATCH_SECONDS.labels(stage.name).observe(time.perf_counter() - batch.started)
            health.beat(last_batch=len(batch.events))

    @app.timer(interval=5.0)
    async def heartbeat():
        # The event loop is alive; beat unless the worker has sat on a batch too long.
        oldest = time.perf_counter() - batch_starts[0] if batch_starts else 0.0
        if oldest < BATCH_STALLED_AFTER_S:
            health.beat(oldest_batch_age_s=round(oldest, 1))
        else:
            log.error("%s: a batch has been in the worker for %.0fs; reporting unhealthy", stage.name, oldest)

    return app


def run_transform(stage: TransformStage, settings: CommonSettings, group_id: str, metrics_port: int) -> None:
    ensure_topics(settings)
    install_for_aiokafka(settings.empty_fetch_backoff_ms)
    health = Health(stage.name)
    serve_observability(health, settings.metrics_host, metrics_port)
    pool = start_worker_process(stage)
    app = build_app(stage, settings, group_id, health, pool)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
