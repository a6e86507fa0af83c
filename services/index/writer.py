"""Writes batches of stories to Elasticsearch with bulk requests.

- `_id` is the story id, so a redelivered story overwrites itself.
- `version` is the wire's version with version_type external_gte: a newer
  version replaces the older; the same version again (a redelivery, a
  re-enrichment) rewrites; an older version arriving late gets 409 and is
  counted as stale, never written over a newer one.
- A kill or withhold notice always wins over every earlier version of its story:
  its version is raised to one above the highest already stored (or earlier in the
  same batch), so a notice that carries no version, or an older one, is not refused
  as stale while the killed text stays visible, and a later resend of the killed
  version is refused as stale instead of bringing it back.
- Visibility: a bulk written when the last refresh is older than `refresh_interval_s`
  asks for a refresh, so a story written on a quiet stream is searchable at once; under
  load at most one refresh per interval (RefreshPolicy).
- With index generations (services/index/generations.py, given as `generations`),
  each story goes to the generation that already holds its id, else the write
  index, and stored versions are looked up across generations; while a reenrich
  runs, what was written is mirrored to the generation it builds.
- Bulks are capped by bytes as well as by count (`bulk_max_bytes`); a bulk that
  Elasticsearch refuses as a whole for its content (413 too large, 400) is split in
  halves until the one document at fault is found and refused alone.

Every failure is classed (shared/runner/failures.py):
- transient (connection errors, timeouts, 429, 5xx; on one item: 429/5xx) ->
  TransientWriteError / WriteReport.retry: the runner pauses and retries;
- systemic (401/403/404 or an item error that is not about the document: a write
  block, a missing or closed index, no permission) -> SystemicWriteError: the runner
  holds the batch uncommitted and alerts; nothing is dead-lettered;
- item (any other refusal of one document) -> WriteReport.rejected: dead-lettered
  with Elasticsearch's reason.
"""

from __future__ import annotations

import json
import logging
import time

from elasticsearch import ApiError, Elasticsearch, TransportError

from shared import metrics
from shared.contract import Story, utcnow
from shared.runner import Rejected, TransientWriteError, WriteReport
from shared.runner.stage import SystemicWriteError
from services.index.documents import story_document
from services.index.generations import GenerationRouter, Plan

log = logging.getLogger(__name__)

_TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
_SYSTEMIC_STATUSES = {401, 403, 404}
# Item errors that say nothing about the document: the same for every document sent.
_SYSTEMIC_ERROR_TYPES = {
    "cluster_block_exception", "index_not_found_exception", "index_closed_exception",
    "security_exception", "authorization_exception", "no_shard_available_action_exception",
}
_KILL_STATUSES = {"canceled", "withheld"}


class RefreshPolicy:
    """When a bulk asks Elasticsearch to refresh (see IndexSettings.refresh_interval_s).

    Quiet: the last refresh is old, so this bulk refreshes and its stories are searchable
    as soon as the write returns, instead of up to a refresh interval later. Busy: the
    bulks in between do not refresh, and `due()` says when a trailing refresh is owed, so
    no story waits longer than the interval. Refreshing every bulk would cost the server
    (on noida-db ~80 ms a refresh at 20k stories) as often as bulks arrive."""

    def __init__(self, interval_s: float, clock=time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last_refresh = float("-inf")
        self.unrefreshed_since: float | None = None

    def for_bulk(self) -> bool:
        if self.interval_s <= 0:
            return False
        if self.clock() - self.last_refresh >= self.interval_s:
            return True
        if self.unrefreshed_since is None:
            self.unrefreshed_since = self.clock()
        return False

    def refreshed(self) -> None:
        self.last_refresh = self.clock()
        self.unrefreshed_since = None

    def owe(self) -> None:
        """A refresh failed: one is still owed, tried again an interval later (not at every
        turn of the poll loop while Elasticsearch is down)."""
        self.last_refresh = self.clock()
        if self.unrefreshed_since is None:
            self.unrefreshed_since = self.clock()

    def due(self) -> bool:
        return self.unrefreshed_since is not None and self.clock() - self.last_refresh >= self.interval_s


class ElasticsearchWriter:
    def __init__(self, es: Elasticsearch, index_name: str, bulk_max_bytes: int = 10 * 1024 * 1024,
                 refresh_interval_s: float = 0.0,
                 generations: "GenerationRouter | None" = None, overwrite_equal: bool = True) -> None:
        self.es = es
        self.index_name = index_name  # the target when there is no generations router
        self.bulk_max_bytes = bulk_max_bytes
        self.generations = generations
        # False (reenrich filling a new generation): a story of the version already stored is
        # refused as stale instead of rewritten, so it cannot overwrite a kill of that version.
        self.overwrite_equal = overwrite_equal
        self._plan: Plan | None = None
        self.refresh = RefreshPolicy(refresh_interval_s)
        # The generations written since they were last refreshed. Only they are refreshed:
        # on noida-db a refresh costs in proportion to the stories of the index refreshed, so
        # refreshing the read alias (every generation) made the cost per story grow with
        # the archive (docs/decisions/0015-end-to-end-speed.md).
        self._unrefreshed: set[str] = set()
        self._targets: list[str] = []  # the index of each line of the last bulk_lines

    def tick(self) -> None:
        """The trailing refresh for stories written by bulks that did not refresh."""
        if self.refresh.due():
            self._refresh_unrefreshed()

    def _refresh_unrefreshed(self) -> None:
        indices = sorted(self._unrefreshed)
        if indices:
            if not refresh_once(self.es, ",".join(indices)):
                self.refresh.owe()
                return
            self._unrefreshed.difference_update(indices)
        self.refresh.refreshed()

    # -- documents -----------------------------------------------------------
    def _versions(self, stories: list[Story]) -> list[int]:
        """The version each story is written with: its own, except kill notices (see module doc)."""
        versions = [story.version for story in stories]
        kills = [i for i, story in enumerate(stories) if story.pub_status in _KILL_STATUSES]
        if not kills:
            return versions
        stored = self._stored_versions({stories[i].id for i in kills})
        highest: dict[str, int] = dict(stored)
        for i, story in enumerate(stories):
            seen = highest.get(story.id, -1)
            if i in kills:
                # One above what is stored: a resend of that same version (external_gte allows
                # equal) must not bring the killed text back.
                versions[i] = max(story.version, seen + 1) if seen >= 0 else story.version
            highest[story.id] = max(seen, versions[i])
        return versions

    def _stored_versions(self, ids: set[str]) -> dict[str, int]:
        if self._plan is not None:
            return self._plan.stored_versions(ids)
        try:
            response = self.es.mget(index=self.index_name, ids=sorted(ids), source=False)
        except (TransportError, ConnectionError) as exc:
            raise TransientWriteError(f"reading stored versions failed: {exc}") from exc
        except ApiError as exc:
            self._raise_for_request(exc)
            raise
        return {doc["_id"]: doc["_version"] for doc in response["docs"] if doc.get("found")}

    def bulk_lines(self, stories: list[Story]) -> list[bytes]:
        """One NDJSON action+document pair per story, in order."""
        indexed_at = utcnow()
        self._plan = self.generations.plan(stories) if self.generations is not None else None
        lines = []
        self._targets = []
        for story, version in zip(stories, self._versions(stories)):
            target = self._plan.target(story.id) if self._plan is not None else self.index_name
            self._targets.append(target)
            version_type = ("external_gte" if self.overwrite_equal or story.pub_status in _KILL_STATUSES
                            else "external")
            action = {"index": {"_index": target, "_id": story.id,
                                "version": version, "version_type": version_type}}
            document = story_document(story, indexed_at)
            lines.append(json.dumps(action).encode() + b"\n"
                         + json.dumps(document, ensure_ascii=False).encode("utf-8") + b"\n")
        return lines

    def bulk_operations(self, stories: list[Story]) -> list[dict]:
        """The same operations as bulk_lines, as objects (for inspection and tests)."""
        return [json.loads(part) for line in self.bulk_lines(stories) for part in line.splitlines()]

    # -- writing -----------------------------------------------------------------
    def write(self, stories: list[Story]) -> WriteReport:
        lines = self.bulk_lines(stories)
        report = WriteReport()
        chunks = self._chunks_by_bytes(lines)
        refresh = self.refresh.for_bulk()
        for number, chunk in enumerate(chunks):
            written = {self._targets[p] for p in chunk}
            self._unrefreshed |= written
            # Only the last bulk of a batch refreshes (the generations it wrote to); what an
            # earlier one, or an earlier batch, wrote elsewhere is refreshed just after it.
            if refresh and number == len(chunks) - 1:
                self._write_chunk(chunk, lines, report, refresh=True)
                self._unrefreshed -= written
            else:
                self._write_chunk(chunk, lines, report)
        if refresh:
            self._refresh_unrefreshed()
        if self._plan is not None:
            self.generations.mirror(self._plan, lines, stories, report)
        self._observe_latency(stories, report)
        return report

    def _chunks_by_bytes(self, lines: list[bytes]) -> list[list[int]]:
        chunks: list[list[int]] = [[]]
        size = 0
        for position, line in enumerate(lines):
            if chunks[-1] and size + len(line) > self.bulk_max_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append(position)
            size += len(line)
        return [chunk for chunk in chunks if chunk]

    def _write_chunk(self, positions: list[int], lines: list[bytes], report: WriteReport,
                     refresh: bool = False) -> None:
        try:
            if refresh:
                response = self.es.bulk(operations=b"".join(lines[p] for p in positions), refresh="true")
            else:
                response = self.es.bulk(operations=b"".join(lines[p] for p in positions))
        except (TransportError, ConnectionError) as exc:
            raise TransientWriteError(f"bulk request failed: {exc}") from exc
        except ApiError as exc:
            if exc.meta.status in (400, 413):
                self._split_refused_chunk(positions, lines, report, exc, refresh)
                return
            self._raise_for_request(exc)
            raise
        for position, item in zip(positions, response["items"]):
            self._classify_item(position, next(iter(item.values())), report)

    def _split_refused_chunk(self, positions: list[int], lines: list[bytes], report: WriteReport,
                             exc: ApiError, refresh: bool = False) -> None:
        """Elasticsearch refused the whole request for its content: halve it until the
        document at fault stands alone, then refuse that one document."""
        if len(positions) == 1:
            reason = f"bulk request refused ({exc.meta.status}): {_error_text(exc)}"[:2000]
            reason_class = "document_too_large" if exc.meta.status == 413 else "elasticsearch_rejected"
            report.rejected[positions[0]] = Rejected(reason_class, reason)
            return
        log.warning("bulk of %d documents refused (%s); splitting it", len(positions), exc.meta.status)
        half = len(positions) // 2
        self._write_chunk(positions[:half], lines, report, refresh)
        self._write_chunk(positions[half:], lines, report, refresh)

    @staticmethod
    def _raise_for_request(exc: ApiError) -> None:
        if exc.meta.status in _TRANSIENT_STATUSES:
            raise TransientWriteError(f"Elasticsearch refused the request ({exc.meta.status})") from exc
        if exc.meta.status in _SYSTEMIC_STATUSES:
            raise SystemicWriteError(f"elasticsearch_{exc.meta.status}",
                                     f"Elasticsearch refused every write ({exc.meta.status}): {_error_text(exc)}") from exc

    @staticmethod
    def _classify_item(position: int, result: dict, report: WriteReport) -> None:
        status = result.get("status", 500)
        if status < 300:
            return
        error = result.get("error") or {}
        error_type = error.get("type", "") if isinstance(error, dict) else ""
        reason = f"{error_type or status}: {error.get('reason', '') if isinstance(error, dict) else error}"[:2000]
        if status == 409:
            report.stale.add(position)
        elif status in _TRANSIENT_STATUSES:
            report.retry[position] = reason
        elif status in _SYSTEMIC_STATUSES or error_type in _SYSTEMIC_ERROR_TYPES:
            raise SystemicWriteError(error_type or f"elasticsearch_{status}", reason)
        else:
            report.rejected[position] = Rejected("elasticsearch_rejected", reason)

    @staticmethod
    def _observe_latency(stories: list[Story], report: WriteReport) -> None:
        now = utcnow()
        for position, story in enumerate(stories):
            if position not in report.rejected and position not in report.stale and position not in report.retry:
                metrics.END_TO_END_SECONDS.observe(max(0.0, (now - story.received_at).total_seconds()))


def refresh_once(es: Elasticsearch, index: str) -> bool:
    """One refresh of `index` (names, comma-separated, or an alias); False when it failed. A
    generation deleted since it was written has nothing left to show, so missing ones are skipped."""
    try:
        es.indices.refresh(index=index, ignore_unavailable=True)
    except (ApiError, TransportError, ConnectionError) as exc:
        log.debug("refresh of %s failed (a later one makes its stories searchable): %r", index, exc)
        return False
    return True


def _error_text(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
        return str(error)
    return str(body or exc.message)
