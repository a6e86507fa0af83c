"""Poison records and dead-letter replay, through the real pipeline (issue 9 items 8, 16).

A burst of junk on news.raw is dead-lettered once per record while the valid
stories behind it flow and the service never restarts; `wirestream deadletter
replay` re-publishes selected letters to their origin topic, marks them replayed,
and skips letters already replayed, stories already indexed and payloads it cannot
replay.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from kafka import KafkaProducer

from shared.contract import Story
from shared.deadletter import DeadLetter, Origin
from shared.messages import encode_story
from tests.integration.conftest import search_ids, wait_until

JUNK = 300


def _cli(running_stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **running_stack.config.env}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_junk_burst_is_dead_lettered_once_each_and_the_stream_flows(running_stack, es, producer, deadletters):
    run = uuid.uuid4().hex[:8]
    pid = running_stack.pid("langdetect")
    junk_keys = [f"junk-{run}-{i}".encode() for i in range(JUNK)]
    for i, key in enumerate(junk_keys):
        value = b"\x00\xffnot a story" if i % 3 == 0 else (b"{not json" if i % 3 == 1 else b'{"headline": 5}')
        producer.send("news.raw", key=key, value=value)
    stories = [Story(id=f"after-junk-{run}-{i}", headline=f"After the junk {run} {i}",
                     body="Officials in Berlin said on Monday that the stream kept flowing.") for i in range(10)]
    for story in stories:
        record = encode_story(story)
        producer.send("news.raw", key=record.key, value=record.value, headers=record.headers)
    producer.flush()

    ids = [s.id for s in stories]
    wait_until(lambda: len(search_ids(es, ids)) == len(ids), timeout_s=180, what="the valid stories behind the junk")
    mine = [d for d in deadletters() if (d["origin"].get("key") or "").startswith(f"junk-{run}-")]
    assert len({d["id"] for d in mine}) == JUNK, "every junk record dead-lettered"
    assert len(mine) == JUNK, "and each exactly once (a crash loop wrote 815 for 300)"
    assert {d["service"] for d in mine} == {"langdetect"} and {d["failure_class"] for d in mine} == {"item"}
    assert running_stack.pid("langdetect") == pid, "langdetect never stopped for the junk"


def test_replay_republishes_marks_and_skips(running_stack, es, deadletters):
    run = uuid.uuid4().hex[:8]
    story = Story(id=f"replay-{run}", guid=f"replay-{run}", source="TEST", headline=f"Replayed story {run}",
                  body="Officials in Madrid said the story came back.")
    indexed = Story(id=f"replay-indexed-{run}", source="TEST", headline=f"Already there {run}", body="Body.")
    # The second story is already searchable: its letter must be skipped.
    producer = KafkaProducer(bootstrap_servers=running_stack.bootstrap, acks="all")
    record = encode_story(indexed)
    producer.send("news.raw", key=record.key, value=record.value, headers=record.headers)
    producer.flush()
    wait_until(lambda: search_ids(es, [indexed.id]), timeout_s=120, what="the already-indexed story")

    def letter(s: Story, offset: int, **extra) -> DeadLetter:
        return DeadLetter(service="langdetect", reason="processing_error: a bug since fixed",
                          reason_class=f"replay_test_{run}", origin=Origin("news.raw", 0, offset, s.id),
                          payload=encode_story(s).value, story_id=s.id, **extra)

    cut = letter(Story(id=f"replay-cut-{run}", headline="Cut", body="x" * 5000), 3)
    letters = [letter(story, 1), letter(indexed, 2), cut]
    for dead in letters:
        out = dead.to_record() if dead is not cut else dead.to_record(max_bytes=2000)
        producer.send("news.deadletter", key=out.key, value=out.value, headers=out.headers)
    producer.flush()
    producer.close()

    listed = _cli(running_stack, "deadletter", "--reason-class", f"replay_test_{run}")
    assert listed.returncode == 0, listed.stderr
    assert "3 of 3 matching" in listed.stdout and "(payload cut)" in listed.stdout

    first = _cli(running_stack, "deadletter", "replay", "--reason-class", f"replay_test_{run}")
    assert first.returncode == 0, first.stderr
    assert "replayed: 1" in first.stdout
    assert "already indexed at the same or a newer version: 1" in first.stdout
    assert "not replayable: 1" in first.stdout and "cut to fit" in first.stdout
    wait_until(lambda: search_ids(es, [story.id]), timeout_s=120, what="the replayed story searchable")

    second = _cli(running_stack, "deadletter", "replay", "--reason-class", f"replay_test_{run}")
    assert "replayed: 0" in second.stdout and "skipped, replayed before: 1" in second.stdout
    markers = [d for d in deadletters(markers=True) if d.get("replayed") == letters[0].id]
    assert len(markers) == 1 and markers[0]["to"] == "news.raw"

    shown = _cli(running_stack, "deadletter", "show", letters[0].id, "--payload-only")
    assert json.loads(shown.stdout)["headline"] == story.headline
