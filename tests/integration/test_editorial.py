"""Editorial semantics end to end through Elasticsearch: versions, kills, embargoes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from tests.integration.conftest import search_ids, stored_document, wait_until


def _post(running_stack, **fields) -> str:
    status, body = running_stack.post("/v1/items", json.dumps(fields).encode())
    assert status == 202, body
    return body["id"]


def _stored(es, story_id: str) -> dict | None:
    """The document as stored in its generation, visible in search or not."""
    found = stored_document(es, story_id)
    return found["_source"] if found else None


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


G2_ITEM = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="{guid}" version="{version}">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:TEST"/><pubStatus qcode="{status}"/></itemMeta>
  {content}</newsItem>"""


def test_a_kill_notice_with_no_text_hides_the_story_and_a_late_copy_cannot_bring_it_back(running_stack, es):
    guid = f"urn:newsml:test.example:{uuid.uuid4().hex}"
    content = """<contentMeta><headline>Factory fire</headline></contentMeta><contentSet>
      <inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
      <p>A fire broke out at the factory.</p></body></html></inlineXML></contentSet>"""
    story = G2_ITEM.format(guid=guid, version=1, status="stat:usable", content=content).encode()
    kill = G2_ITEM.format(guid=guid, version=2, status="stat:canceled", content="").encode()
    status, body = running_stack.post("/v1/items", story, content_type="application/xml")
    assert status == 202, body
    story_id = body["id"]
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=60, what="the story visible")
    status, body = running_stack.post("/v1/items", kill, content_type="application/xml")
    assert (status, body.get("id")) == (202, story_id), body
    wait_until(lambda: not search_ids(es, [story_id]), timeout_s=60, what="the killed story gone from search")
    stored = _stored(es, story_id)
    assert (stored["pub_status"], stored["version"], stored["headline"]) == ("canceled", 2, "")
    # The original, delivered again late, is refused as stale: the kill stands.
    stale_before = running_stack.metric("index", "wirestream_stale_versions_total")
    assert running_stack.post("/v1/items", story, content_type="application/xml")[0] == 202
    wait_until(lambda: running_stack.metric("index", "wirestream_stale_versions_total") > stale_before,
               timeout_s=60, what="the late copy refused as stale")
    assert not search_ids(es, [story_id])


def test_an_embargoed_story_appears_at_its_time_without_being_resent(running_stack, es):
    # The embargo outlasts the bounded wait for indexing, so "hidden before it lifts" is always checked.
    lifts = datetime.now(timezone.utc) + timedelta(seconds=30)
    story_id = _post(running_stack, guid=f"urn:test:embargo:{uuid.uuid4()}", source="TEST",
                     headline="Results embargoed until noon", body="Profits doubled.",
                     embargo_until=lifts.isoformat())
    wait_until(lambda: _stored(es, story_id), timeout_s=20, what="the embargoed story indexed")
    assert not search_ids(es, [story_id]), "visible before its embargo lifted"
    assert datetime.now(timezone.utc) < lifts, "the hidden check came after the embargo lifted"
    wait_until(lambda: search_ids(es, [story_id]), timeout_s=60, what="the story visible after the embargo")
    assert datetime.now(timezone.utc) >= lifts


def _nitf(doc_id: str, issued: datetime, docdata: str = "", dates: str = "", headline: str = "Budget vote") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<nitf><head><docdata {docdata}><doc-id id-string="{doc_id}"/><date.issue norm="{issued:%Y%m%dT%H%M%S+0000}"/>{dates}
  <doc.copyright holder="Press Association"/></docdata></head>
<body><body.head><hedline><hl1>{headline}</hl1></hedline></body.head>
<body.content><p>LONDON (PA) - The budget passed its first vote.</p></body.content></body></nitf>""".encode()


def _g2(guid: str, version: int, status: str, headline: str = "Bridge reopens") -> bytes:
    return f"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="{guid}" version="{version}">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:TEST"/><pubStatus qcode="stat:{status}"/></itemMeta>
  <contentMeta><headline>{headline}</headline></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
    <p>The bridge reopened to traffic on Monday.</p></body></html></inlineXML></contentSet></newsItem>""".encode()


def _post_xml(running_stack, document: bytes) -> str:
    status, body = running_stack.post("/v1/items", document, content_type="application/xml")
    assert status == 202, body
    return body["id"]


def test_an_embargoed_nitf_story_is_indexed_but_hidden(running_stack, es):
    issued = datetime.now(timezone.utc).replace(microsecond=0)
    release = issued + timedelta(days=1)
    story_id = _post_xml(running_stack, _nitf(f"PA-{uuid.uuid4()}", issued, 'management-status="embargoed"',
                                              f'<date.release norm="{release:%Y%m%dT%H%M%S+0000}"/>'))
    stored = wait_until(lambda: _stored(es, story_id), timeout_s=60, what="the embargoed NITF story indexed")
    assert datetime.fromisoformat(stored["embargo_until"]) == release
    assert not search_ids(es, [story_id])


def test_nitf_and_newsml_g2_kills_remove_stories_from_search(running_stack, es):
    issued = datetime.now(timezone.utc).replace(microsecond=0)
    doc_id, guid = f"PA-{uuid.uuid4()}", f"urn:newsml:test:{uuid.uuid4()}"
    nitf_id = _post_xml(running_stack, _nitf(doc_id, issued, 'management-status="usable"'))
    g2_id = _post_xml(running_stack, _g2(guid, 1, "usable"))
    wait_until(lambda: len(search_ids(es, [nitf_id, g2_id])) == 2, timeout_s=60, what="both stories visible")
    # The NITF kill: management-status canceled on a later issue (its version is the issue time).
    assert _post_xml(running_stack, _nitf(doc_id, issued + timedelta(minutes=5), 'management-status="canceled"',
                                          headline="KILL: Budget vote")) == nitf_id
    assert _post_xml(running_stack, _g2(guid, 2, "canceled", headline="KILL: Bridge reopens")) == g2_id
    wait_until(lambda: not search_ids(es, [nitf_id, g2_id]), timeout_s=60, what="both kills applied")
    assert (_stored(es, nitf_id)["pub_status"], _stored(es, g2_id)["pub_status"]) == ("canceled", "canceled")
