"""Emulates the broker's long poll for brokers that answer empty fetches at once.

Kafka holds an empty fetch for up to fetch.max.wait.ms before answering, so an
idle consumer costs nothing. noida-db answers at once, so an idle aiokafka or
kafka-python consumer re-fetches in a tight loop and burns a core (measured:
~95 % of a core per idle consumer), which starves the CPU-bound stages on a
2-core machine. With `empty_fetch_backoff_ms` > 0 the client does what the broker
would: after a fetch that returned no records it sends no new fetch for that long.
New records are therefore seen at most that late. Off (0) for real Kafka; the
embedded stack turns it on. See docs/decisions/0001-noida-db-for-development-and-ci.md.

kafka-python: the consumer's fetcher reports no fetchable partition during the
quiet time, so poll() waits on its selector instead of spinning (and heartbeats,
rebalances and commits go on as usual).
aiokafka (faust): the fetch task waits out the quiet time after an empty answer.
"""

from __future__ import annotations

import asyncio
import functools
import time

_installed = {"aiokafka": 0, "kafka-python": 0}


def install_for_kafka_python(backoff_ms: int) -> None:
    """Patch kafka-python's Fetcher once per process."""
    if backoff_ms <= 0 or _installed["kafka-python"]:
        return
    from kafka.consumer.fetcher import Fetcher

    quiet_s = backoff_ms / 1000
    original_fetchable = Fetcher._fetchable_partitions
    original_handle = Fetcher._handle_fetch_response

    @functools.wraps(original_handle)
    def _handle_fetch_response(self, node_id, fetch_offsets, send_time, response):
        got_records = any(
            partition.records for topic in response.responses for partition in topic.partitions
        )
        if not got_records:
            self._wirestream_quiet_until = time.monotonic() + quiet_s
        return original_handle(self, node_id, fetch_offsets, send_time, response)

    @functools.wraps(original_fetchable)
    def _fetchable_partitions(self):
        if time.monotonic() < getattr(self, "_wirestream_quiet_until", 0.0):
            return []  # what the broker's fetch.max.wait.ms would have held back
        return original_fetchable(self)

    Fetcher._handle_fetch_response = _handle_fetch_response
    Fetcher._fetchable_partitions = _fetchable_partitions
    _installed["kafka-python"] = backoff_ms


def install_for_aiokafka(backoff_ms: int) -> None:
    """Patch aiokafka's fetcher (used by faust) once per process."""
    if backoff_ms <= 0 or _installed["aiokafka"]:
        return
    from aiokafka.consumer.fetcher import Fetcher

    original = Fetcher._proc_fetch_request
    minimum_s = backoff_ms / 1000

    @functools.wraps(original)
    async def _proc_fetch_request(self, assignment, node_id, request):
        started = time.monotonic()
        got_records = await original(self, assignment, node_id, request)
        remaining = minimum_s - (time.monotonic() - started)
        if not got_records and remaining > 0:
            await asyncio.sleep(remaining)  # what the broker would have waited
        return got_records

    Fetcher._proc_fetch_request = _proc_fetch_request
    _installed["aiokafka"] = backoff_ms
