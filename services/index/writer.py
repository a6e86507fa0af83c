"""Writes batches of stories to Elasticsearch with one bulk request.

- `_id` is the story id, so a redelivered story overwrites itself.
- `version` is the wire's version with version_type external_gte: a newer
  version replaces the older; the same version again (a redelivery, a
  re-enrichment) rewrites; an older version arriving late gets 409 and is
  counted as stale, never written over a newer one.
- Unavailable (connection errors, 429, 5xx) -> TransientWriteError: the runner
  pauses and retries the batch. Any other per-item error -> rejected, i.e.
  dead-lettered with Elasticsearch's reason.
"""

from __future__ import annotations

import logging

from elasticsearch import ApiError, Elasticsearch, TransportError

from shared import metrics
from shared.contract import Story, utcnow
from shared.runner import Rejected, TransientWriteError, WriteReport
from services.index.documents import story_document

log = logging.getLogger(__name__)

_TRANSIENT_STATUSES = {429, 500, 502, 503, 504}


class ElasticsearchWriter:
    def __init__(self, es: Elasticsearch, index_name: str) -> None:
        self.es = es
        self.index_name = index_name

    def bulk_operations(self, stories: list[Story]) -> list[dict]:
        indexed_at = utcnow()
        operations: list[dict] = []
        for story in stories:
            operations.append(
                {"index": {"_index": self.index_name, "_id": story.id,
                           "version": story.version, "version_type": "external_gte"}}
            )
            operations.append(story_document(story, indexed_at))
        return operations

    def write(self, stories: list[Story]) -> WriteReport:
        try:
            response = self.es.bulk(operations=self.bulk_operations(stories))
        except (TransportError, ConnectionError) as exc:
            raise TransientWriteError(f"bulk request failed: {exc}") from exc
        except ApiError as exc:
            if exc.status in _TRANSIENT_STATUSES:
                raise TransientWriteError(f"bulk request refused ({exc.status})") from exc
            raise
        return self._report(stories, response)

    def _report(self, stories: list[Story], response) -> WriteReport:
        report = WriteReport()
        transient = []
        for position, item in enumerate(response["items"]):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            if status < 300:
                continue
            if status == 409:
                report.stale.add(position)
            elif status in _TRANSIENT_STATUSES:
                transient.append(status)
            else:
                error = result.get("error", {})
                reason = f"{error.get('type', status)}: {error.get('reason', '')}"[:2000]
                report.rejected[position] = Rejected("elasticsearch_rejected", reason)
        if transient:
            # Rewriting the items that did succeed is harmless (same _id, same version).
            raise TransientWriteError(f"{len(transient)} items refused temporarily ({sorted(set(transient))})")
        now = utcnow()
        for position, story in enumerate(stories):
            if position not in report.rejected and position not in report.stale:
                metrics.END_TO_END_SECONDS.observe(max(0.0, (now - story.received_at).total_seconds()))
        return report
