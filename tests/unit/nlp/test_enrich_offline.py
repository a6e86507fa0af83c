"""`wirestream enrich` without Kafka: bad files and failing stories are reported, the rest printed."""

from __future__ import annotations

import json

from shared.contract import Story
from services import enrich_offline


def test_a_missing_path_and_a_bad_file_are_reported_and_the_good_file_enriched(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("PARIS (AFP) - Renault said on Monday that Jean-Dominique Senard would stay.\n", encoding="utf-8")
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<nitf><body>unclosed")
    stories, errors = enrich_offline.read_paths([good, bad, tmp_path / "missing.txt"])
    assert [s.body.split(" - ")[0] for s in stories] == ["PARIS (AFP)"]
    assert any("bad.xml" in e for e in errors)
    assert any("missing.txt" in e and "no such file" in e for e in errors)


def test_a_story_that_breaks_the_enricher_is_reported_and_the_others_printed(enricher, monkeypatch):
    real = enricher.enrich

    def fragile(batch):
        if any("POISON" in s.body for s in batch):
            raise RuntimeError("model blew up")
        return real(batch)

    monkeypatch.setattr(enricher, "enrich", fragile)
    stories = [Story(id="a", headline="Renault", body="Renault hired engineers in Paris on Monday."),
               Story(id="p", headline="x", body="POISON story text for the test."),
               Story(id="b", headline="Nissan", body="Nissan cut its forecast in Tokyo.")]
    failed: list[str] = []
    lines = list(enrich_offline.enrich_stories(stories, enricher, 0.08, failed))
    assert [line["id"] for line in lines] == ["a", "b"]
    assert all(line["language"] == "en" and line["entities"] for line in lines)
    assert len(failed) == 1 and failed[0].startswith("story p: processing_error") and "model blew up" in failed[0]


def test_json_lines_on_stdin_each_become_a_story_and_offsets_point_into_text(enricher):
    data = b"\n".join(json.dumps({"guid": f"g{i}", "headline": "Renault", "body": body}).encode()
                      for i, body in enumerate(["The chairman of Renault met the board of Nissan in Paris on Monday to discuss the alliance.", "Le groupe Renault a parl\u00e9 \u00e0 Paris."]))
    stories, errors = enrich_offline.read_stdin(data)
    assert errors == [] and len(stories) == 2
    lines = list(enrich_offline.enrich_stories(stories, enricher, 0.08))
    assert [line["language"] for line in lines] == ["en", "fr"]
    for line in lines:
        for entity in line["entities"]:
            for start, end in entity["offsets"]:
                assert line["text"][start:end] == entity["text"] or entity["text"].endswith(line["text"][start:end])
