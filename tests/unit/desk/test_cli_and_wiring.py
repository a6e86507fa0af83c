"""`wirestream search` output, the dead-letter view and the stack's desk wiring."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.cli import build_parser
from services.desk.deadletters import shape
from services.desk.search_cli import query_pairs, table
from services.stack import StackConfig


def test_search_arguments_become_the_api_parameters():
    args = build_parser().parse_args(["search", "nissan", "--lang", "fr", "--entity", "ORG:Nissan",
                                      "--source", "AFP", "--since", "7d", "--sort", "newest", "--size", "5"])
    assert query_pairs(args) == [("q", "nissan"), ("lang", "fr"), ("entity", "ORG:Nissan"), ("source", "AFP"),
                                 ("since", "7d"), ("sort", "newest"), ("size", "5")]


def test_table_marks_derived_titles_and_counts():
    body = {"total": 7, "hits": [
        {"id": "a1", "title": "Nissan exec to resign", "title_derived": False, "language": "en", "source": "AFP",
         "published_at": "2019-12-04T08:12:00Z"},
        {"id": "b2", "title": "Renault, Nissan et Mitsubishi ont tenu", "title_derived": True, "language": "fr",
         "source": "unknown", "published_at": None, "received_at": "2024-05-01T10:00:00+00:00"},
    ]}
    lines = table(body, 120)
    assert lines[1].startswith("2019-12-04 08:12 en   AFP") and lines[1].rstrip().endswith("a1")
    assert "~ Renault, Nissan" in lines[2] and "2024-05-01 10:00" in lines[2]
    assert lines[-1].startswith("2 of 7 stories") and "derived" in lines[-1]
    assert table({"total": 0, "hits": []}, 80) == ["no stories match (0 in all)"]


def test_dead_letters_show_metadata_never_the_payload():
    record = {"service": "index", "reason_class": "elasticsearch_rejected", "reason": "x" * 5000,
              "origin": {"topic": "news.enriched", "partition": 1, "offset": 9, "key": "k"}, "story_id": "s",
              "failed_at": "2024-05-01T10:00:00Z", "payload": {"encoding": "utf-8", "data": "<script>secret</script>"}}
    shown = shape(json.dumps(record).encode(), 1, 9)
    assert "payload" not in shown and shown["payload_bytes"] == len("<script>secret</script>")
    assert len(shown["reason"]) == 1000
    assert shape(b"\xff not json", 0, 1)["reason_class"] == "unreadable"


def test_the_stack_starts_the_desk_and_tells_it_every_replica_to_watch():
    config = StackConfig(run_dir=Path("/tmp/x"), desk_port=18000, extract_replicas=2,
                         metrics_ports={"ingest": 100, "langdetect": 101, "extract": 102, "index": 103, "desk": 104})
    env = config.env
    assert env["WIRESTREAM_DESK_PORT"] == "18000"
    assert env["WIRESTREAM_DESK_SERVICES"] == (
        "ingest=http://127.0.0.1:100,langdetect=http://127.0.0.1:101,extract=http://127.0.0.1:102,"
        "extract-1=http://127.0.0.1:112,index=http://127.0.0.1:103")
    from services import stack

    assert "desk" in stack.SERVICES and stack.health_urls(config)["desk"] == "http://127.0.0.1:104/healthz"


def test_serve_accepts_the_desk():
    args = build_parser().parse_args(["serve", "desk"])
    assert isinstance(args, argparse.Namespace) and args.service == "desk"
