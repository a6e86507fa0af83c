"""The feed poller: RSS/Atom/JSON Feed URLs fetched on a per-feed interval.

Conditional GETs (ETag / If-None-Match, Last-Modified / If-Modified-Since)
keep polling cheap; a 304 costs nothing. Items already sent (same story id at
the same or a newer version) are not sent again, also after a restart: the
ETags and seen ids live in a small JSON file in `state_dir`, written only
after Kafka acknowledged the new items.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared import metrics
from shared.deadletter import DeadLetter, Origin
from services.ingest.formats import InputError, parse_bytes
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)

SEEN_PER_FEED = 5000  # feeds show their latest items; older ids fall out of the window
REPORTED_PER_FEED = 500  # unusable entries already dead-lettered, so a feed re-polled does not repeat them
USER_AGENT = "wirestream-feed-poller/0.1"


@dataclass(frozen=True)
class FeedSource:
    url: str
    interval_s: float


def parse_feed_setting(value: str | None, default_interval_s: float) -> list[FeedSource]:
    sources = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        url, _, interval = part.partition("|")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"feed URL must be http(s): {url!r}")
        sources.append(FeedSource(url, float(interval) if interval else default_interval_s))
    return sources


@dataclass
class PollResult:
    status: str  # "new", "not-modified", "error"
    sent: int = 0
    skipped: int = 0
    reason: str = ""
    rejected: int = 0  # unusable entries (dead-lettered once each)


@dataclass
class FeedPoller:
    publisher: StoryPublisher
    state_file: Path
    max_bytes: int
    state: dict = field(default_factory=dict)
    deadletter_topic: str = "news.deadletter"

    def __post_init__(self) -> None:
        if self.state_file.exists():
            try:
                self.state = json.loads(self.state_file.read_text())
            except (OSError, ValueError):
                log.warning("unreadable feed state %s; starting afresh", self.state_file)

    def poll(self, source: FeedSource) -> PollResult:
        feed_state = self.state.setdefault(source.url, {"seen": {}})
        headers = {"User-Agent": USER_AGENT}
        if feed_state.get("etag"):
            headers["If-None-Match"] = feed_state["etag"]
        if feed_state.get("last_modified"):
            headers["If-Modified-Since"] = feed_state["last_modified"]
        try:
            with urllib.request.urlopen(urllib.request.Request(source.url, headers=headers), timeout=20) as response:
                data = response.read(self.max_bytes + 1)
                content_type = response.headers.get("Content-Type")
                etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return PollResult("not-modified")
            return self._error(source, f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:
            return self._error(source, str(exc))
        started = time.perf_counter()
        metrics.MESSAGES_IN.labels("ingest").inc()
        try:
            result = parse_bytes(data, content_type=content_type, max_bytes=self.max_bytes)
        except InputError as exc:
            return self._error(source, exc.reason)
        self._dead_letter_new_errors(source, feed_state, result.errors)  # before state is saved, like stories
        seen = feed_state["seen"]
        fresh = [s for s in result.stories if seen.get(s.id, -1) < s.version]
        if fresh:
            self.publisher.publish(fresh)  # raises if Kafka is down: state untouched, retried next time
            metrics.MESSAGES_OUT.labels("ingest").inc(len(fresh))
        for story in fresh:
            seen[story.id] = story.version
        if len(seen) > SEEN_PER_FEED:
            for story_id in list(seen)[: len(seen) - SEEN_PER_FEED]:
                del seen[story_id]
        feed_state["etag"], feed_state["last_modified"] = etag, last_modified
        self._save()
        metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
        return PollResult("new", sent=len(fresh), skipped=len(result.stories) - len(fresh),
                          rejected=len(result.errors))

    def _dead_letter_new_errors(self, source: FeedSource, feed_state: dict, errors) -> None:
        reported = feed_state.setdefault("reported", [])
        letters, keys = [], []
        for error in errors:
            key = f"{error.index}:{error.reason}"
            log.warning("feed %s item %d unusable: %s", source.url, error.index, error.reason)
            if key in reported:
                continue
            metrics.FAILURES.labels("ingest", "feed_item_rejected").inc()
            metrics.DEADLETTERED.labels("ingest", "feed_item_rejected").inc()
            letters.append(DeadLetter(service="ingest", reason=f"feed item {error.index}: {error.reason}",
                                      reason_class="feed_item_rejected",
                                      origin=Origin(topic=source.url, key=f"item {error.index}")))
            keys.append(key)
        if letters:
            self.publisher.publish_dead_letters(letters, self.deadletter_topic)  # raises if Kafka is down
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


def run_poller(poller: FeedPoller, sources: list[FeedSource], stop: threading.Event) -> None:
    due = {source: 0.0 for source in sources}
    log.info("polling %d feed(s)", len(sources))
    while not stop.is_set():
        now = time.monotonic()
        for source, at in due.items():
            if at <= now:
                try:
                    result = poller.poll(source)
                    log.info("feed %s: %s, %d sent, %d already seen", source.url, result.status, result.sent,
                             result.skipped)
                except Exception:  # noqa: BLE001 - Kafka down or a bug: try this feed again next interval
                    log.exception("polling %s failed", source.url)
                due[source] = now + source.interval_s
        stop.wait(max(0.2, min(due.values()) - time.monotonic()))
