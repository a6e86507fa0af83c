"""Ingest channels besides HTTP: the drop folder, the bearer token, batches."""

from __future__ import annotations

import json
import uuid

from services import stack
from tests.integration.conftest import search_ids, wait_until


def test_drop_folder_ingests_good_files_and_explains_bad_ones(running_stack, es):
    drop = running_stack.drop_dir
    name = f"story-{uuid.uuid4().hex[:8]}"
    good = {"guid": f"urn:test:drop:{name}", "source": "TEST", "headline": "Dropped story",
            "body": "Filed through the drop folder."}
    (drop / f"{name}.json.tmp").write_text(json.dumps(good))
    (drop / f"{name}.json.tmp").rename(drop / f"{name}.json")
    (drop / f"{name}-bad.json").write_text('{"headline": ')
    # dpa digitalwires with a number for its teaser: it used to crash the scan, and every file
    # after it (the good one sorts after it) waited forever.
    (drop / f"{name}-types.json").write_text(json.dumps(
        {"format": "digitalwires@1.0", "urn": f"urn:newsml:dpa.com:20090101:{name}", "headline": "Wahl",
         "teaser": 5, "article_html": "<p>Berlin (dpa) - Die Wahl.</p>"}))

    wait_until(lambda: (drop / "done" / f"{name}.json").exists(), timeout_s=30, what="good file moved to done/")
    wait_until(lambda: (drop / "failed" / f"{name}-bad.json").exists(), timeout_s=30, what="bad file in failed/")
    reason = (drop / "failed" / f"{name}-bad.json.reason.txt").read_text()
    assert "malformed JSON" in reason
    wait_until(lambda: (drop / "failed" / f"{name}-types.json").exists(), timeout_s=30, what="wrong types in failed/")
    assert "'teaser': expected a string" in (drop / "failed" / f"{name}-types.json.reason.txt").read_text()
    es.indices.refresh(index="news")
    wait_until(lambda: es.count(index="news", query={"term": {"guid": good["guid"]}})["count"] == 1,
               timeout_s=60, what="the dropped story searchable")


def test_batch_post_accepts_good_items_and_names_bad_ones(running_stack, es):
    run = uuid.uuid4().hex[:8]
    batch = [{"guid": f"urn:test:batch:{run}:1", "source": "TEST", "headline": "One", "body": "First."},
             {"guid": f"urn:test:batch:{run}:2", "headline": 42},
             {"guid": f"urn:test:batch:{run}:3", "source": "TEST", "headline": "Three", "body": "Third."}]
    status, body = running_stack.post("/v1/items", json.dumps(batch).encode())
    assert status == 202
    assert len(body["accepted"]) == 2
    assert body["rejected"][0]["index"] == 1 and "headline" in body["rejected"][0]["reason"]
    ids = [item["id"] for item in body["accepted"]]
    wait_until(lambda: len(search_ids(es, ids)) == 2, timeout_s=60, what="both good batch items")


def test_oversized_and_binary_items_are_refused(running_stack):
    status, body = running_stack.post("/v1/items", b"\x00\x01\x02\x03" * 100, content_type="application/octet-stream")
    assert status == 415 and "binary" in body["error"]["reason"]
    status, body = running_stack.post("/v1/items", b"x" * 6_000_000, content_type="text/plain")
    assert status == 413


def test_hostile_xml_is_refused_and_the_stack_stays_healthy(running_stack, es):
    bombs = [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<nitf><body><body.head><hedline><hl1>&b;</hl1></hedline></body.head></body></nitf>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file:///etc/passwd">]><rss><channel><item>'
        b"<title>&s;</title></item></channel></rss>",
        b"<newsItem><contentSet><inlineXML><nitf><body>unclosed",
    ]
    for bomb in bombs:
        status, body = running_stack.post("/v1/items", bomb, content_type="application/xml")
        assert status == 400, body
        assert body["error"]["reason"]
    # Still serving: health is green and a good story goes all the way through.
    for name, url in stack.health_urls(running_stack.config).items():
        assert stack.is_healthy(url), f"{name} unhealthy after hostile input"
    story = {"guid": f"urn:test:after-bombs:{uuid.uuid4()}", "source": "TEST", "headline": "Still standing",
             "body": "The pipeline kept running."}
    status, body = running_stack.post("/v1/items", json.dumps(story).encode())
    assert status == 202
    wait_until(lambda: search_ids(es, [body["id"]]), timeout_s=60, what="a good story after the bombs")
