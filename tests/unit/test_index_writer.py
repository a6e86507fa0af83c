from datetime import datetime, timezone

import pytest

from shared.contract import Story
from shared.runner import TransientWriteError
from services.index.documents import story_document
from services.index.writer import ElasticsearchWriter


class RecordingBulk:
    """Stands in for the client's bulk call only: the response shapes are Elasticsearch's."""

    def __init__(self, statuses):
        self.statuses = statuses
        self.operations = None

    def bulk(self, operations):
        self.operations = operations
        items = []
        for status in self.statuses:
            item = {"_id": "x", "status": status}
            if status >= 300:
                item["error"] = {"type": "document_parsing_exception", "reason": f"status {status}"}
            items.append({"index": item})
        return {"errors": any(s >= 300 for s in self.statuses), "items": items}


def _stories(n):
    return [Story(id=f"id{i}", version=3, headline="H", body="B", language="en") for i in range(n)]


def test_bulk_uses_story_id_and_external_versioning():
    client = RecordingBulk([201])
    ElasticsearchWriter(client, "news-v1").write(_stories(1))
    action = client.operations[0]["index"]
    assert action == {"_index": "news-v1", "_id": "id0", "version": 3, "version_type": "external_gte"}


def test_report_separates_rejected_from_stale_versions():
    report = ElasticsearchWriter(RecordingBulk([201, 409, 400]), "news-v1").write(_stories(3))
    assert report.stale == {1}
    assert set(report.rejected) == {2}
    assert report.rejected[2].reason_class == "elasticsearch_rejected"
    assert "status 400" in report.rejected[2].reason


def test_overload_is_transient():
    with pytest.raises(TransientWriteError):
        ElasticsearchWriter(RecordingBulk([201, 429]), "news-v1").write(_stories(2))


def test_document_flattens_offsets_and_adds_language_field():
    story = Story(id="a", headline="Nissan", body="Renault", language="fr",
                  entities=[{"text": "Nissan", "label": "ORG", "offsets": [(0, 6), (20, 26)]}])
    doc = story_document(story, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert doc["entities"][0]["offsets"] == [0, 6, 20, 26]
    assert doc["lang"] == {"fr": "Nissan\n\nRenault"}
    assert doc["indexed_at"].startswith("2026-01-01")
    assert "schema_version" not in doc
