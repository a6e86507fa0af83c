"""Adaptive batches from a faust stream: one story at once when the stream is quiet,
full batches under load, and no wake-ups at all while nothing arrives.

faust's `Stream.noack_take(max_, within)` wakes every `within` seconds whatever happens:
with 200 ms a quiet story waited up to 200 ms per stage, with 20 ms each idle agent
cost ~2.5 % of a core in timer wake-ups. This take waits for the first event without a
timer, then gives the events already fetched `linger_s` to join it: under a backlog
they are there at once and the batch fills to `max_`; on a quiet stream the one story
goes on after `linger_s`.

It is faust's own noack_take (faust-streaming 0.15, streams.py) with the wait split in
two; it uses the same stream hooks (a passive processor that fills a buffer), so events
are acked by the caller, after their results are confirmed, exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from mode.utils.aiter import aiter
from mode.utils.futures import notify


async def adaptive_noack_take(stream, max_: int, linger_s: float) -> AsyncIterator[list]:
    buffer: list = []
    not_empty = asyncio.Event()
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future | None = None
    loop = asyncio.get_running_loop()

    async def add_to_buffer(value):
        nonlocal consuming
        if consuming is not None:  # the caller is reading the buffer: wait until it is done
            try:
                await consuming
            finally:
                consuming = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("take buffer found current_event is None")
        buffer.append(event)
        not_empty.set()
        if len(buffer) >= max_:
            full.set()
            consumed.clear()
            await stream.wait(consumed)  # never more than max_ in a batch
        return value

    acks_were = stream.enable_acks
    stream.enable_acks = False  # the caller acks each event after its results are confirmed
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(not_empty)  # no timer: an idle stream costs nothing
            if not full.is_set():
                await stream.wait_for_stopped(full, timeout=linger_s)  # what is already fetched joins
            if buffer:
                consuming = loop.create_future()
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    notify(consuming)
                    full.clear()
                    not_empty.clear()
                    consumed.set()
    finally:
        stream.enable_acks = acks_were
        stream._processors.remove(add_to_buffer)
