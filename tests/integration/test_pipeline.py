"""End to end: HTTP -> ingest -> langdetect -> extract -> index -> Elasticsearch alias `news`."""

from __future__ import annotations

import json
import uuid

from shared.elastic import stored_entities
from tests.integration.conftest import search_ids, stored_indices, wait_until


def _post_story(running_stack, **fields) -> str:
    status, body = running_stack.post("/v1/items", json.dumps(fields).encode())
    assert status == 202, body
    return body["id"]


def _entity_labels(source: dict) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for entity in stored_entities(source):
        labels.setdefault(entity["text"], set()).add(entity["label"])
    return labels


def test_seed_stories_are_searchable_with_language_and_entities(running_stack, es, seeds_dir):
    english, french = sorted(seeds_dir.glob("*.txt"))
    ids = {}
    for name, path in (("en", english), ("fr", french)):
        status, body = running_stack.post("/v1/items", path.read_bytes(), content_type="text/plain; charset=utf-8")
        assert status == 202, body
        ids[name] = body["id"]

    found = wait_until(lambda: (lambda hits: hits if len(hits) == 2 else None)(search_ids(es, list(ids.values()))),
                       timeout_s=120, what="both seed stories in the news alias")
    en, fr = found[ids["en"]], found[ids["fr"]]
    assert en["language"] == "en" and fr["language"] == "fr"
    en_labels, fr_labels = _entity_labels(en), _entity_labels(fr)
    for text, label in [("Nissan", "ORG"), ("Renault", "ORG"), ("Makoto Uchida", "PERSON"), ("Tokyo", "LOC")]:
        assert label in en_labels.get(text, set()), f"{text} ({label}) missing from {en_labels}"
    for text, label in [("Boulogne-Billancourt", "LOC"), ("Renault", "ORG")]:
        assert label in fr_labels.get(text, set()), f"{text} ({label}) missing from {fr_labels}"

    # Full-text search through the alias finds them as a user would.
    es.indices.refresh(index="news")
    # Filtered to the two ids: other tests' stories mention Renault too and could fill the top ten.
    hits = es.search(index="news", query={"bool": {"must": {"match": {"body": "Renault"}},
                                                   "filter": {"ids": {"values": list(ids.values())}}}})["hits"]["hits"]
    assert {ids["en"], ids["fr"]} <= {hit["_id"] for hit in hits}


def test_same_story_twice_is_one_document(running_stack, es):
    guid = f"urn:test:{uuid.uuid4()}"
    story = {"guid": guid, "source": "TEST", "headline": "Central bank holds rates",
             "body": "The central bank kept its main rate unchanged on Thursday, citing slowing inflation."}
    first = _post_story(running_stack, **story)
    second = _post_story(running_stack, **story)
    assert first == second
    wait_until(lambda: search_ids(es, [first]), timeout_s=60, what="the story in the index")
    es.indices.refresh(index="news")
    assert es.count(index="news", query={"term": {"guid": guid}})["count"] == 1


def test_malformed_item_gets_400_and_nothing_is_indexed(running_stack, es):
    marker = f"zq{uuid.uuid4().hex}"  # one token no other story contains
    status, body = running_stack.post("/v1/items", b'{"headline": "' + marker.encode() + b'", "body": ')
    assert status == 400
    assert body["error"]["reason"]
    status, body = running_stack.post("/v1/items", json.dumps({"headline": ["not", "text"], "body": marker}).encode())
    assert status == 400
    assert "headline" in body["error"]["reason"]
    # A later good story is indexed: had the malformed ones got through, they would be there by then.
    sentinel = _post_story(running_stack, headline="Sentinel after malformed items", body=f"Sentinel {uuid.uuid4()}.")
    wait_until(lambda: search_ids(es, [sentinel]), timeout_s=60, what="the sentinel story")
    es.indices.refresh(index=stored_indices(es))
    assert es.count(index=stored_indices(es), query={"multi_match": {"query": marker, "fields": ["headline", "body"]}})["count"] == 0


def test_story_elasticsearch_rejects_becomes_a_dead_letter(running_stack, es, producer, deadletters):
    # An id longer than Elasticsearch's 512 bytes, from a producer other than ingest (whose
    # ids are 32-character hashes): a real rejection that no stage before the index catches.
    story_id = f"too-long-id-{uuid.uuid4().hex[:8]}-" + "x" * 600
    envelope = {"id": story_id, "headline": "Too long an id", "body": "x", "language": "en"}
    metadata = producer.send("news.enriched", key=story_id.encode(), value=json.dumps(envelope).encode(),
                             headers=[("schema-version", b"1")]).get(timeout=30)

    def find():
        return [d for d in deadletters() if d.get("story_id") == story_id]

    letters = wait_until(find, timeout_s=60, what="the dead-letter record")
    letter = letters[0]
    assert letter["service"] == "index"
    assert letter["reason_class"] == "elasticsearch_rejected"
    assert "512 bytes" in letter["reason"]
    assert letter["origin"] == {"topic": "news.enriched", "partition": metadata.partition,
                                "offset": metadata.offset, "key": story_id}
    # The index service keeps running: a good story sent after it is indexed.
    good_id = f"after-rejection-{uuid.uuid4().hex[:8]}"
    good = {"id": good_id, "headline": "After a rejection", "body": "Still indexing.", "language": "en"}
    producer.send("news.enriched", key=good_id.encode(), value=json.dumps(good).encode(),
                  headers=[("schema-version", b"1")]).get(timeout=30)
    wait_until(lambda: search_ids(es, [good_id]), timeout_s=60, what="a good story after the rejected one")


def test_undecodable_record_is_dead_lettered_with_its_origin(running_stack, producer, deadletters):
    key = f"junk-{uuid.uuid4().hex[:8]}"
    metadata = producer.send("news.raw", key=key.encode(), value=b"\xff\xfe\x00 not json, not UTF-8").get(timeout=30)
    letters = wait_until(lambda: [d for d in deadletters() if d["origin"].get("key") == key], timeout_s=60,
                         what="dead letter for junk")
    assert letters[0]["service"] == "langdetect"
    assert letters[0]["reason_class"] == "undecodable"
    assert letters[0]["origin"]["offset"] == metadata.offset
    assert letters[0]["payload"]["encoding"] == "base64"
