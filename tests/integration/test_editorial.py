"""Editorial semantics end to end through Elasticsearch: versions, kills, embargoes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from tests.integration.conftest import search_ids, wait_until


def _post(running_stack, **fields) -> str:
    status, body = running_stack.post("/v1/items", json.dumps(fields).encode())
    assert status == 202, body
    return body["id"]


def _stored(es, story_id: str) -> dict | None:
    """The document as stored in the concrete index, visible in search or not."""
    response = es.options(ignore_status=404).get(index="news-v1", id=story_id)
    return response["_source"] if response.get("found") else None


def test_an_older_version_arriving_late_never_overwrites_a_newer_one(running_stack, es):
    guid = f"urn:test:versions:{uuid.uuid4()}"
    stale_before = running_stack.metric("index", "wirestream_stale_versions_total")
    story_id = _post(running_stack, guid=guid, source="TEST", version=2, headline="Second version",
                     body="Corrected figures: output rose 3 percent.")
    wait_until(lambda: (_stored(es, story_id) or {}).get("version") == 2, timeout_s=60, what="v2 indexed")
    assert _post(running_stack, guid=guid, source="TEST", version=1, headline="First version",
                 body="Output rose 2 percent.") == story_id
    wait_until(lambda: running_stack.metric("index", "wirestream_stale_versions_total") > stale_before,
               timeout_s=60, what="the late v1 refused as stale")
    stored = _stored(es, story_id)
    assert (stored["version"], stored["headline"]) == (2, "Second version")


def test_a_newer_version_replaces_the_older(running_stack, es):
    guid = f"urn:test:update:{uuid.uuid4()}"
    story_id = _post(running_stack, guid=guid, source="TEST", version=1, headline="Quake hits coast",
                     body="A quake hit the coast.")
    wait_until(lambda: _stored(es, story_id), timeout_s=60, what="v1 indexed")
    _post(running_stack, guid=guid, source="TEST", version=3, headline="Quake hits coast, 12 dead",
          body="A quake hit the coast, killing 12.")
    wait_until(lambda: (_stored(es, story_id) or {}).get("version") == 3, timeout_s=60, what="v3 indexed")
    assert search_ids(es, [story_id])[story_id]["headline"] == "Quake hits coast, 12 dead"


def test_a_killed_story_disappears_from_search(running_stack, es):
    guid = f"urn:test:kill:{uuid.uuid4()}"
    story_id = _post(running_stack, guid=guid, source="TEST", version=1, headline="Minister resigns",
                     body="The minister resigned on Monday.")
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=60, what="the story visible")
    _post(running_stack, guid=guid, source="TEST", version=2, pub_status="canceled",
          headline="KILL: Minister resigns", body="Withdrawn: the minister did not resign.")
    wait_until(lambda: not search_ids(es, [story_id]), timeout_s=60, what="the story gone from search")
    # Kept as a tombstone, so a late copy of version 1 cannot bring it back.
    assert _stored(es, story_id)["pub_status"] == "canceled"


def test_an_embargoed_story_appears_at_its_time_without_being_resent(running_stack, es):
    lifts = datetime.now(timezone.utc) + timedelta(seconds=12)
    story_id = _post(running_stack, guid=f"urn:test:embargo:{uuid.uuid4()}", source="TEST",
                     headline="Results embargoed until noon", body="Profits doubled.",
                     embargo_until=lifts.isoformat())
    wait_until(lambda: _stored(es, story_id), timeout_s=60, what="the embargoed story indexed")
    if datetime.now(timezone.utc) < lifts - timedelta(seconds=1):
        assert not search_ids(es, [story_id]), "visible before its embargo lifted"
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=60, what="the story visible after the embargo")
    assert datetime.now(timezone.utc) >= lifts
