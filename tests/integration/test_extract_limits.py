"""A story ingest accepts is searchable however much extract finds in it (issue 9 items 2
and 5): number-heavy text grows about 6.4x when enriched, past the broker's record
limit; extract trims its entities to fit and flags the story instead of failing the send
(which crash-looped every replica on that record).

The story is sized from the limits in shared/limits.py, with the broker's limit read the
way the services read it, so the test follows them if they change.
"""

from __future__ import annotations

import json
import uuid

import pytest

from shared.elastic import stored_entities
from shared.kafka_io import broker_max_message_bytes
from shared.limits import MAX_ENTITIES_PER_STORY, max_raw_story_bytes
from shared.settings import CommonSettings
from services.ingest.formats import parse_bytes
from tests.integration.conftest import search_ids, wait_until


def _number_heavy_envelope(max_story_bytes: int) -> tuple[bytes, int]:
    """A JSON envelope whose story, as ingest encodes it, is just under max_story_bytes."""
    line = "Turnout by district, in percent: " + " ".join(f"{v / 10:.1f}%" for v in range(1000))
    guid = f"urn:test:heavy:{uuid.uuid4()}"

    def envelope(lines: int) -> bytes:
        return json.dumps({"guid": guid, "source": "TEST", "headline": "Turnout rose in every district",
                           "body": "\n".join([line] * lines)}).encode()

    def story_bytes(lines: int) -> int:
        [story] = parse_bytes(envelope(lines), content_type="application/json").stories
        return len(story.to_json())

    lines = max_story_bytes // (len(line) + 1)
    while story_bytes(lines) > max_story_bytes:
        lines -= 1
    return envelope(lines), story_bytes(lines)


@pytest.mark.timeout(900)  # NER over ~0.9 MB of numbers takes a while on a shared machine
def test_a_number_heavy_story_just_under_the_ingest_limit_is_searchable_with_entities_truncated(running_stack, es,
                                                                                               deadletters):
    broker_limit = broker_max_message_bytes(CommonSettings(kafka_bootstrap=running_stack.bootstrap))
    max_story = max_raw_story_bytes(broker_limit)
    data, story_size = _number_heavy_envelope(max_story)
    assert max_story - 4096 < story_size <= max_story

    status, body = running_stack.post("/v1/items", data)
    assert status == 202, body
    story_id = body["id"]
    # A small story after it: it must flow too (extract did not crash-loop on the big one).
    status, small = running_stack.post("/v1/items", json.dumps(
        {"guid": f"urn:test:{uuid.uuid4()}", "source": "TEST", "headline": "Rates held",
         "body": "The Bank of England held rates at 5.25 percent on Thursday."}).encode())
    assert status == 202, small

    found = wait_until(lambda: (lambda hits: hits if len(hits) == 2 else None)(search_ids(es, [story_id, small["id"]])),
                       timeout_s=600, interval_s=2, what="the number-heavy story and the one after it in the index")
    heavy = found[story_id]
    assert heavy["entities_truncated"] is True
    assert 0 < len(stored_entities(heavy)) < MAX_ENTITIES_PER_STORY  # trimmed to fit the record, not only capped
    assert found[small["id"]]["entities_truncated"] is False

    # The flag is mapped: a search finds the truncated story by it.
    es.indices.refresh(index="news")
    flagged = es.search(index="news", query={"bool": {"filter": [
        {"ids": {"values": [story_id, small["id"]]}}, {"term": {"entities_truncated": True}}]}})["hits"]["hits"]
    assert [hit["_id"] for hit in flagged] == [story_id]
    assert not [d for d in deadletters() if d.get("story_id") == story_id]
