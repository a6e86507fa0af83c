"""The feed poller: RSS/Atom/JSON Feed URLs fetched on a per-feed interval.

Conditional GETs (ETag / If-None-Match, Last-Modified / If-Modified-Since)
keep polling cheap; a 304 costs nothing. Items already sent (same story id at
the same or a newer version) are not sent again, also after a restart: the
ETags and seen ids live in a small JSON file in `state_dir`, written only
after Kafka acknowledged the new items.

Feeds are fetched concurrently (at most `feed_concurrency` at once), each fetch
under one total deadline (connect, headers and body together), so a server that
drips a byte every few seconds costs its own feed a timeout and nobody else
anything.

A feed's stories take the feed's configured name as provider (`name=URL`), else
the URL's host, never the feed's title: the provider is part of every story id,
and a title changes ("Example News" -> "Example News - Top stories") while the
stories do not. Two feeds of one publisher given one name share ids, so the
same guid in both is one story.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from shared import metrics
from shared.contract import Story, story_id
from shared.deadletter import DeadLetter, Origin
from services.ingest.admission import admit
from services.ingest.formats import InputError, parse_bytes
from services.ingest.formats.errors import ItemError
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)

SEEN_PER_FEED = 5000  # feeds show their latest items; older ids fall out of the window
REPORTED_PER_FEED = 500  # unusable entries already dead-lettered, so a feed re-polled does not repeat them
USER_AGENT = "wirestream-feed-poller/0.1"
DEFAULT_FETCH_TIMEOUT_S = 30.0
_NAMED = re.compile(r"^\s*([^=/:|,]+?)\s*=\s*(\S+)$")


@dataclass(frozen=True)
class FeedSource:
    url: str
    interval_s: float
    name: str | None = None  # the provider of its stories; default: the URL's host

    @property
    def provider(self) -> str:
        return self.name or urlsplit(self.url).hostname or self.url


def parse_feed_setting(value: str | None, default_interval_s: float) -> list[FeedSource]:
    """'[name=]URL[|seconds],...' -> sources. A name holds no '=', '/', ':', '|' or ','."""
    sources = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        spec, _, interval = part.partition("|")
        named = _NAMED.match(spec)
        name, url = (named.group(1), named.group(2)) if named else (None, spec.strip())
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"feed URL must be http(s): {url!r}")
        sources.append(FeedSource(url, float(interval) if interval else default_interval_s, name))
    return sources


@dataclass
class PollResult:
    status: str  # "new", "not-modified", "error"
    sent: int = 0
    skipped: int = 0
    reason: str = ""
    rejected: int = 0  # unusable entries (dead-lettered once each)


@dataclass
class Fetched:
    data: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


@dataclass
class FeedPoller:
    publisher: StoryPublisher
    state_file: Path
    max_bytes: int
    state: dict = field(default_factory=dict)
    deadletter_topic: str = "news.deadletter"
    fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S

    def __post_init__(self) -> None:
        # state: touched briefly from the event loop (validators) and from worker threads (results).
        self._state_lock = threading.Lock()
        # One feed's result is processed (parsed, published, saved) at a time; fetches stay concurrent.
        self._process_lock = threading.Lock()
        if self.state_file.exists():
            try:
                self.state = json.loads(self.state_file.read_text())
            except (OSError, ValueError):
                log.warning("unreadable feed state %s; starting afresh", self.state_file)

    def poll(self, source: FeedSource) -> PollResult:
        """One poll, blocking (for tests and one-off callers; the service uses run_poller)."""
        return asyncio.run(self.poll_async(source))

    async def poll_async(self, source: FeedSource, session: aiohttp.ClientSession | None = None) -> PollResult:
        if session is None:
            async with _session() as own:
                fetched = await self.fetch(source, own)
        else:
            fetched = await self.fetch(source, session)
        if isinstance(fetched, PollResult):
            return fetched
        return await asyncio.to_thread(self.process, source, fetched)

    async def fetch(self, source: FeedSource, session: aiohttp.ClientSession) -> Fetched | PollResult:
        with self._state_lock:
            feed_state = self.state.setdefault(source.url, {"seen": {}})
            headers = {}
            if feed_state.get("etag"):
                headers["If-None-Match"] = feed_state["etag"]
            if feed_state.get("last_modified"):
                headers["If-Modified-Since"] = feed_state["last_modified"]
        try:
            # `total` bounds the whole exchange: a per-read timeout lets a dripping server hold us forever.
            async with session.get(source.url, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=self.fetch_timeout_s)) as response:
                if response.status == 304:
                    return PollResult("not-modified")
                if response.status >= 400:
                    return self._error(source, f"HTTP {response.status}")
                chunks, size = [], 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self.max_bytes:
                        return self._error(source, f"feed exceeds the limit of {self.max_bytes} bytes "
                                                   "(WIRESTREAM_MAX_ITEM_BYTES)")
                    chunks.append(chunk)
                return Fetched(b"".join(chunks), response.headers.get("Content-Type"),
                               response.headers.get("ETag"), response.headers.get("Last-Modified"))
        except asyncio.TimeoutError:
            return self._error(source, f"no complete response within {self.fetch_timeout_s:g} s "
                                       "(WIRESTREAM_FEED_FETCH_TIMEOUT_S)")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return self._error(source, str(exc) or type(exc).__name__)

    def process(self, source: FeedSource, fetched: Fetched) -> PollResult:
        """Parse, admit, dead-letter unusable entries, publish new stories, then save state."""
        with self._process_lock:
            started = time.perf_counter()
            metrics.MESSAGES_IN.labels("ingest").inc()
            try:
                parsed = parse_bytes(fetched.data, content_type=fetched.content_type, max_bytes=self.max_bytes)
                parsed.stories = [as_provider(story, source.provider) for story in parsed.stories]
                result = admit(parsed, self.publisher.limits, single_item_raises=False)
            except InputError as exc:
                return self._error(source, exc.reason)
            with self._state_lock:
                feed_state = self.state.setdefault(source.url, {"seen": {}})
                seen = dict(feed_state["seen"])
            self._dead_letter_new_errors(source, feed_state, result.errors)  # before state is saved, like stories
            fresh = [s for s in result.stories if seen.get(s.id, -1) < s.version]
            if fresh:
                self.publisher.publish(fresh)  # raises if Kafka is down: state untouched, retried next time
                metrics.MESSAGES_OUT.labels("ingest").inc(len(fresh))
            with self._state_lock:
                seen = feed_state["seen"]
                for story in fresh:
                    seen[story.id] = story.version
                if len(seen) > SEEN_PER_FEED:
                    for old_id in list(seen)[: len(seen) - SEEN_PER_FEED]:
                        del seen[old_id]
                feed_state["etag"], feed_state["last_modified"] = fetched.etag, fetched.last_modified
                self._save()
            metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
            return PollResult("new", sent=len(fresh), skipped=len(result.stories) - len(fresh),
                              rejected=len(result.errors))

    def _dead_letter_new_errors(self, source: FeedSource, feed_state: dict, errors: list[ItemError]) -> None:
        with self._state_lock:
            reported = list(feed_state.get("reported", []))
        letters, keys = [], []
        for error in errors:
            # Numbers in a reason (a size, the version ceiling, which moves every second) do not make
            # it a new failure of the same entry.
            key = f"{error.index}:{re.sub(r'[0-9]+', 'N', error.reason)}"
            log.warning("feed %s item %d unusable: %s", source.url, error.index, error.reason)
            if key in reported or key in keys:
                continue
            metrics.FAILURES.labels("ingest", "feed_item_rejected").inc()
            metrics.DEADLETTERED.labels("ingest", "feed_item_rejected").inc()
            letters.append(DeadLetter(service="ingest", reason=f"feed item {error.index}: {error.reason}",
                                      reason_class="feed_item_rejected",
                                      origin=Origin(topic=source.url, key=f"item {error.index}")))
            keys.append(key)
        if letters:
            self.publisher.publish_dead_letters(letters, self.deadletter_topic)  # raises if Kafka is down
            with self._state_lock:
                reported = feed_state.setdefault("reported", [])
                reported.extend(keys)
                del reported[: max(0, len(reported) - REPORTED_PER_FEED)]

    def _error(self, source: FeedSource, reason: str) -> PollResult:
        metrics.FAILURES.labels("ingest", "feed_error").inc()
        log.warning("feed %s failed: %s", source.url, reason)
        return PollResult("error", reason=reason)

    def _save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.state_file)  # atomic: a crash never leaves half a state file


def as_provider(story: Story, provider: str) -> Story:
    """The story as published by `provider`: its source and so its id (hash of provider + guid)."""
    if story.source == provider:
        return story
    return story.model_copy(update={"source": provider,
                                    "id": story_id(provider, story.guid, story.headline, story.body)})


def _session() -> aiohttp.ClientSession:
    # trust_env: proxies from the environment apply, as they did with urllib.
    return aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}, trust_env=True)


def run_poller(poller: FeedPoller, sources: list[FeedSource], stop: threading.Event, concurrency: int = 4) -> None:
    """Poll every feed on its own interval until `stop` is set, `concurrency` fetches at a time."""
    log.info("polling %d feed(s), %d at a time", len(sources), concurrency)
    asyncio.run(_poll_all(poller, sources, stop, concurrency))


async def _poll_all(poller: FeedPoller, sources: list[FeedSource], stop: threading.Event, concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)
    async with _session() as session:
        tasks = [asyncio.create_task(_poll_repeatedly(poller, session, source, slots, stop)) for source in sources]
        while not stop.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _poll_repeatedly(poller: FeedPoller, session: aiohttp.ClientSession, source: FeedSource,
                           slots: asyncio.Semaphore, stop: threading.Event) -> None:
    while not stop.is_set():
        async with slots:
            try:
                result = await poller.poll_async(source, session)
                log.info("feed %s: %s, %d sent, %d already seen", source.url, result.status, result.sent,
                         result.skipped)
            except Exception:  # noqa: BLE001 - Kafka down or a bug: try this feed again next interval
                log.exception("polling %s failed", source.url)
        await asyncio.sleep(source.interval_s)
