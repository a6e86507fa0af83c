"""Emulates the broker's long poll for brokers that answer empty fetches at once.

Kafka holds an empty fetch for up to fetch.max.wait.ms before answering, so an
idle consumer costs nothing. noida-db answers at once, so an idle aiokafka or
kafka-python consumer re-fetches in a tight loop and burns a core (measured:
~95 % of a core per idle consumer), which starves the CPU-bound stages on a
2-core machine. With `empty_fetch_backoff_ms` > 0 an empty fetch is made to
take at least that long, on the client. Off (0) for real Kafka; the embedded
stack turns it on. See docs/decisions/0001-noida-db-for-development-and-ci.md.
"""

from __future__ import annotations

import asyncio
import functools
import time

_installed_ms = 0


def install_for_aiokafka(backoff_ms: int) -> None:
    """Patch aiokafka's fetcher (used by faust) once per process."""
    global _installed_ms
    if backoff_ms <= 0 or _installed_ms:
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
    _installed_ms = backoff_ms
