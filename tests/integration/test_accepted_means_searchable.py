"""202 means searchable, at the size limit too (issue 9 items 0 and 2), against the real
noida-db broker and the real kafka-python client.

The limit is the one ingest derives from the broker at start-up: a story whose
encoded record is just under it is accepted and ends up searchable; one just over
it gets 413 naming the limit; and the API keeps answering 202 for small stories
after refusing a big one (before the fix, one 1.2 MB story poisoned the producer and
every later POST was a 503 until a restart)."""

from __future__ import annotations

import itertools
import json
import random
import urllib.error
import urllib.request
import uuid

import pytest
from kafka.errors import MessageSizeTooLargeError

from shared.contract import Story
from shared.kafka_io import broker_max_message_bytes
from shared.limits import max_raw_story_bytes
from shared.messages import encode_story
from shared.settings import IngestSettings
from services import stack
from services.ingest.admission import StoryLimits
from services.ingest.publisher import StoryPublisher
from tests.integration.conftest import search_ids, wait_until

# Lower-case prose without names: language detection has words to read, NER finds next to
# nothing, so the enriched record stays inside the room the reserve keeps for it.
WORDS = ("the quick brown fox jumps over a lazy dog while rain falls on quiet fields and "
         "farmers wait for the harvest to begin under grey skies near the old mill").split()


def _prose(length: int, seed: int) -> str:
    rng = random.Random(seed)
    words = (rng.choice(WORDS) for _ in itertools.count())
    text, size = [], 0
    for word in words:
        if size + len(word) + 1 > length:
            break
        text.append(word)
        size += len(word) + 1
    return " ".join(text).ljust(length, ".")


def _envelope_of_encoded_size(size: int, guid: str) -> dict:
    """An envelope whose story, as ingest will encode it, is `size` bytes give or take the few
    bytes of the received_at timestamp ingest sets."""
    fields = {"guid": guid, "source": "TEST", "headline": "harvest report", "body": ""}
    overhead = len(encode_story(Story(id="0" * 32, **fields)).value)
    return {**fields, "body": _prose(size - overhead, seed=len(guid))}


def _health(running_stack) -> tuple[int, dict]:
    url = stack.health_urls(running_stack.config)["ingest"]
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.timeout(900)  # NER over 900 KB of text on a shared 2-core machine
def test_202_at_the_limit_means_searchable_and_over_it_is_413(running_stack, es):
    broker_limit = broker_max_message_bytes(IngestSettings(kafka_bootstrap=running_stack.bootstrap))
    limit = max_raw_story_bytes(broker_limit)
    run = uuid.uuid4().hex[:8]

    under = _envelope_of_encoded_size(limit - 200, f"urn:test:limit:{run}:under")
    status, body = running_stack.post("/v1/items", json.dumps(under).encode())
    assert status == 202, body
    under_id = body["id"]

    over = _envelope_of_encoded_size(limit + 200, f"urn:test:limit:{run}:over")
    status, body = running_stack.post("/v1/items", json.dumps(over).encode())
    assert status == 413, body
    assert f"exceeds the limit of {limit} bytes" in body["error"]["reason"]
    assert f"record limit of {broker_limit} bytes" in body["error"]["reason"]

    # A 1.2 MB story, the size that used to poison the producer, and small stories after it.
    huge = {"guid": f"urn:test:limit:{run}:huge", "source": "TEST", "headline": "h", "body": "x" * 1_200_000}
    assert running_stack.post("/v1/items", json.dumps(huge).encode())[0] == 413
    small_ids = []
    for n in range(3):
        small = {"guid": f"urn:test:limit:{run}:small{n}", "source": "TEST", "headline": "Small story",
                 "body": "A short story filed after a refused big one."}
        status, body = running_stack.post("/v1/items", json.dumps(small).encode())
        assert status == 202, body
        small_ids.append(body["id"])

    status, health = _health(running_stack)
    assert status == 200 and health["producer"] == "ok", health

    found = wait_until(lambda: (lambda hits: hits if len(hits) == 4 else None)(
        search_ids(es, [under_id, *small_ids])), timeout_s=600, interval_s=2,
        what="the story at the limit and the small ones searchable")
    assert len(found[under_id]["body"]) == len(under["body"])
    es.indices.refresh(index="news")
    assert es.count(index="news", query={"prefix": {"guid": f"urn:test:limit:{run}:over"}})["count"] == 0


def test_a_producer_poisoned_by_the_broker_is_replaced_with_the_real_client(running_stack):
    # Limits as if the broker allowed 8 MiB: the 1.2 MB record goes out and noida refuses it,
    # which puts kafka-python's idempotent producer into its fatal state. Uncompressed, as
    # gzip would shrink the test's repetitive text under the broker's limit.
    settings = IngestSettings(kafka_bootstrap=running_stack.bootstrap, kafka_compression="none")
    publisher = StoryPublisher(settings, client_id="test-poisoned", limits=StoryLimits(8 * 1024 * 1024))
    run = uuid.uuid4().hex[:8]
    try:
        big = Story(id=f"{run}big", guid=f"urn:test:poison:{run}:big", source="TEST", headline="h",
                    body="x" * 1_200_000)
        try:
            publisher.publish([big])
            raise AssertionError("the broker accepted a 1.2 MB record")
        except MessageSizeTooLargeError:
            pass
        small = Story(id=f"{run}small", guid=f"urn:test:poison:{run}:small", source="TEST", headline="h", body="b")
        publisher.publish([small])  # before the fix: MessageSizeTooLargeError again, and for ever
        assert publisher.state()["producer_replacements"] == 1
        assert "MessageSizeTooLarge" in publisher.state()["producer_last_fatal_error"]
    finally:
        publisher.close()


def test_the_drop_folder_refuses_an_oversize_story_naming_the_limit(running_stack):
    drop = running_stack.drop_dir
    name = f"big-{uuid.uuid4().hex[:8]}.json"
    (drop / f"{name}.tmp").write_text(json.dumps({"guid": f"urn:test:{name}", "source": "TEST", "headline": "h",
                                                  "body": "x" * 1_200_000}))
    (drop / f"{name}.tmp").rename(drop / name)
    wait_until(lambda: (drop / "failed" / f"{name}.reason.txt").exists(), timeout_s=60,
               what="the oversize file in failed/")
    assert "exceeds the limit of" in (drop / "failed" / f"{name}.reason.txt").read_text()
