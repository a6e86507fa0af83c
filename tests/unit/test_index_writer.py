"""The index writer against stand-ins for the client's bulk and mget calls (the
response shapes are Elasticsearch's); the real server is exercised by the
integration tier."""

import json
from datetime import datetime, timezone

import pytest
from elasticsearch import ApiError

from shared.contract import Story
from shared.elastic import stored_entities
from shared.runner import TransientWriteError
from shared.runner.stage import SystemicWriteError
from services.index.documents import story_document
from services.index.writer import ElasticsearchWriter


class _Meta:
    def __init__(self, status):
        self.status = status


def api_error(status: int, error_type: str = "x") -> ApiError:
    return ApiError(f"{status}", _Meta(status), {"error": {"type": error_type, "reason": f"status {status}"}})


class FakeClient:
    """Records bulk bodies; answers each document with a status from `statuses`
    (by position in the whole write), or refuses whole requests via `refuse`."""

    def __init__(self, statuses=None, refuse=None, stored=None, error_type="document_parsing_exception"):
        self.statuses = statuses
        self.refuse = refuse  # callable(number of docs in the request) -> ApiError | None
        self.stored = stored or {}
        self.error_type = error_type
        self.requests: list[list[dict]] = []
        self.refreshes: list[str | None] = []
        self.explicit_refreshes = 0
        self.refreshed_indices: list[str] = []
        self.refresh_error: Exception | None = None
        self._served = 0

    @property
    def indices(self):
        client = self

        class Indices:
            def refresh(self, index, ignore_unavailable=False):
                if client.refresh_error is not None:
                    raise client.refresh_error
                client.explicit_refreshes += 1
                client.refreshed_indices.append(index)
        return Indices()

    def bulk(self, operations, refresh=None):
        lines = [json.loads(line) for line in operations.splitlines()]
        self.requests.append(lines)
        self.refreshes.append(refresh)
        docs = len(lines) // 2
        error = self.refuse(docs) if self.refuse else None
        if error is not None:
            raise error
        items = []
        for _ in range(docs):
            status = self.statuses[self._served] if self.statuses else 201
            self._served += 1
            item = {"_id": "x", "status": status}
            if status >= 300:
                item["error"] = {"type": self.error_type, "reason": f"status {status}"}
            items.append({"index": item})
        return {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items}

    def mget(self, index, ids, source):
        return {"docs": [{"_id": i, "found": i in self.stored, **({"_version": self.stored[i]} if i in self.stored else {})}
                         for i in ids]}

    def actions(self):
        return [line["index"] for request in self.requests for line in request if "index" in line]


def _stories(n, **extra):
    return [Story(id=f"id{i}", version=3, headline="H", body="B", language="en", **extra) for i in range(n)]


def test_bulk_uses_story_id_and_external_versioning():
    client = FakeClient()
    ElasticsearchWriter(client, "news-v1").write(_stories(1))
    assert client.actions() == [{"_index": "news-v1", "_id": "id0", "version": 3, "version_type": "external_gte"}]


def test_report_separates_rejected_from_stale_versions_and_retries():
    report = ElasticsearchWriter(FakeClient([201, 409, 400, 429]), "news-v1").write(_stories(4))
    assert report.stale == {1}
    assert set(report.rejected) == {2}
    assert report.rejected[2].reason_class == "elasticsearch_rejected"
    assert "status 400" in report.rejected[2].reason
    assert set(report.retry) == {3}


def test_overload_of_the_whole_request_is_transient():
    client = FakeClient(refuse=lambda docs: api_error(429))
    with pytest.raises(TransientWriteError):
        ElasticsearchWriter(client, "news-v1").write(_stories(2))


@pytest.mark.parametrize("status, error_type", [(403, "cluster_block_exception"), (404, "index_not_found_exception")])
def test_a_write_block_or_missing_index_is_systemic_not_a_refused_document(status, error_type):
    """Issue 9 item 4: these items must not be dead-lettered one by one."""
    client = FakeClient([status, status], error_type=error_type)
    with pytest.raises(SystemicWriteError) as raised:
        ElasticsearchWriter(client, "news-v1").write(_stories(2))
    assert raised.value.reason_class == error_type


def test_bulks_are_capped_by_bytes():
    """Issue 9 item 7: bulks were capped by count only."""
    stories = [Story(id=f"id{i}", headline="H", body="x" * 3000) for i in range(10)]
    client = FakeClient()
    report = ElasticsearchWriter(client, "news-v1", bulk_max_bytes=8000).write(stories)
    assert len(client.requests) >= 5 and all(len(r) <= 4 for r in client.requests)
    assert sum(len(r) for r in client.requests) == 20 and not report.rejected


def test_a_request_refused_as_too_large_is_split_until_the_one_document_is_found():
    """Issue 9 item 7: a 413 crashed index and the restart replayed the same batch forever."""
    stories = _stories(7)
    stories[5] = Story(id="huge", headline="H", body="x" * 50_000)
    client = FakeClient(refuse=lambda docs: None)
    client.refuse = lambda docs: api_error(413) if any(
        line.get("id") == "huge" for line in client.requests[-1]) else None
    report = ElasticsearchWriter(client, "news-v1").write(stories)
    assert set(report.rejected) == {5}
    assert report.rejected[5].reason_class == "document_too_large"
    written = {line["id"] for request in client.requests[:-1] for line in request if "id" in line}
    assert written >= {s.id for i, s in enumerate(stories) if i != 5}


def test_a_kill_without_a_version_wins_over_the_stored_version():
    """Issue 9 item 3: the kill got version 1, 409 against v2, and the story stayed visible."""
    client = FakeClient(stored={"id0": 5})
    kill = Story(id="id0", version=1, pub_status="canceled")
    ElasticsearchWriter(client, "news-v1").write([kill])
    assert client.actions()[0]["version"] == 6, "one above the stored version: a resend of 5 cannot undo it"


def test_a_kill_wins_over_a_newer_version_earlier_in_the_same_batch():
    client = FakeClient(stored={})
    update = Story(id="id0", version=4, headline="H", body="B")
    kill = Story(id="id0", version=1, pub_status="withheld")
    ElasticsearchWriter(client, "news-v1").write([update, kill])
    assert [a["version"] for a in client.actions()] == [4, 5]


def test_document_indexes_entities_flat_and_keeps_the_list_as_one_string():
    story = Story(id="a", headline="Nissan", body="Renault", language="fr",
                  entities=[{"text": "Nissan", "label": "ORG", "key": "nissan", "offsets": [(0, 6), (20, 26)]},
                            {"text": "Renault SA", "label": "ORG", "key": "renault sa", "offsets": [(8, 15)]},
                            {"text": "2 March", "label": "DATE", "key": "2 march", "value": "2026-03-02",
                             "method": "rule", "offsets": [(30, 37)]}])
    doc = story_document(story, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert "entities" not in doc  # no nested objects: decision 16
    assert doc["entity_keys"] == {"ORG": ["nissan", "renault sa"], "DATE": ["2 march"]}
    assert doc["entity_names"] == {"ORG": ["Nissan", "Renault SA"], "DATE": ["2 March"]}
    listed = json.loads(doc["entity_list"])
    assert listed[0] == {"text": "Nissan", "label": "ORG", "key": "nissan", "count": 1, "method": "model",
                         "offsets": [0, 6, 20, 26]}
    assert listed[2]["value"] == "2026-03-02" and listed[2]["method"] == "rule"
    assert stored_entities(doc) == listed
    assert doc["lang"] == {"fr": "Nissan\n\nRenault"}
    assert doc["indexed_at"].startswith("2026-01-01")
    assert "schema_version" not in doc


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_quiet_bulks_refresh_at_once_and_busy_ones_get_one_trailing_refresh():
    """Issue 12: a story written on a quiet stream is searchable when the write returns;
    under load at most one refresh per interval, and none is owed for longer."""
    from services.index.writer import RefreshPolicy

    client = FakeClient()
    writer = ElasticsearchWriter(client, "news-v1", refresh_interval_s=1.0)
    clock = Clock()
    writer.refresh = RefreshPolicy(1.0, clock)
    writer.write(_stories(1))
    assert client.refreshes == ["true"], "quiet: this bulk refreshes"
    for step in range(4):  # busy: four bulks within the second
        clock.now += 0.2
        writer.write(_stories(2))
        writer.tick()
    assert client.refreshes[1:] == [None] * 4 and client.explicit_refreshes == 0
    clock.now += 0.25  # a second after the last refresh: the trailing one is due
    writer.tick()
    assert client.explicit_refreshes == 1
    assert client.refreshed_indices == ["news-v1"], "only the index written to, not the read alias"
    writer.tick()
    assert client.explicit_refreshes == 1, "nothing owed any more"


def test_a_failed_trailing_refresh_is_owed_and_retried_an_interval_later():
    from elasticsearch import ConnectionError as EsConnectionError
    from services.index.writer import RefreshPolicy

    client = FakeClient()
    writer = ElasticsearchWriter(client, "news-v1", refresh_interval_s=1.0)
    clock = Clock()
    writer.refresh = RefreshPolicy(1.0, clock)
    writer.write(_stories(1))  # quiet: refreshes in the bulk
    clock.now += 0.1
    writer.write(_stories(1))  # busy: owes one
    clock.now += 1.0
    client.refresh_error = EsConnectionError("down")
    writer.tick()
    assert client.explicit_refreshes == 0
    client.refresh_error = None
    writer.tick()  # not at every turn of the loop: an interval later
    assert client.refreshed_indices == []
    clock.now += 1.0
    writer.tick()
    assert client.refreshed_indices == ["news-v1"]
    writer.tick()
    assert client.explicit_refreshes == 1


def test_a_refreshing_bulk_also_refreshes_what_earlier_bulks_wrote_to_other_generations():
    """A busy bulk updated a story in an old generation; the next quiet bulk writes only to
    the current one, so its own refresh would leave the old generation unrefreshed."""
    from services.index.writer import RefreshPolicy

    client = FakeClient()
    writer = ElasticsearchWriter(client, "news-000002", refresh_interval_s=1.0)
    clock = Clock()
    writer.refresh = RefreshPolicy(1.0, clock)
    writer.write(_stories(1))  # refreshes news-000002 in the bulk
    clock.now += 0.1
    writer.index_name = "news-000001"  # stands in for the router sending an update to an old generation
    writer.write(_stories(1))
    writer.index_name = "news-000002"
    clock.now += 1.0
    writer.write(_stories(1))
    assert client.refreshes == ["true", None, "true"]
    assert client.refreshed_indices == ["news-000001"]


def test_refresh_interval_zero_never_asks():
    client = FakeClient()
    writer = ElasticsearchWriter(client, "news-v1", refresh_interval_s=0)
    writer.write(_stories(1))
    writer.tick()
    assert client.refreshes == [None] and client.explicit_refreshes == 0
