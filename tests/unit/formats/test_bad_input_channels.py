"""Bad input through the file channels: the drop folder and `wirestream ingest` report the
file and go on with the next one; nothing stops at a traceback, nothing is lost silently."""

from __future__ import annotations

import json

from services.ingest import dropfolder, files
from services.ingest.dropfolder import DropFolder
from services.ingest.files import ingest_paths
from services.ingest.admission import StoryLimits

GOOD = {"guid": "urn:test:good", "source": "TEST", "headline": "Good story", "body": "It went through."}
# dpa digitalwires with a number where the teaser text belongs.
BAD_TYPES = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:2", "headline": "Wahl",
             "teaser": 5, "article_html": "<p>Berlin (dpa) - Die Wahl.</p>"}


class RecordingPublisher:
    limits = StoryLimits()  # Kafka's default broker limit

    def __init__(self):
        self.published = []

    def publish(self, stories):
        self.published.extend(stories)


def _scan_until_settled(folder: DropFolder) -> dict[str, int]:
    folder.scan_once()  # first sight of the files: they must be unchanged on the next scan
    return folder.scan_once()


def _write(root, name: str, document: object) -> None:
    (root / name).write_text(json.dumps(document))


def test_drop_folder_fails_a_file_with_wrong_types_and_goes_on(tmp_path):
    # "a-bad" sorts first: before the fix its crash aborted the scan, and every file after it waited forever.
    _write(tmp_path, "a-bad.json", BAD_TYPES)
    _write(tmp_path, "b-good.json", GOOD)
    publisher = RecordingPublisher()
    counts = _scan_until_settled(DropFolder(tmp_path, publisher, max_bytes=1_000_000))
    assert counts == {"done": 1, "failed": 1, "retry": 0}
    assert (tmp_path / "failed" / "a-bad.json").exists() and not (tmp_path / "a-bad.json").exists()
    assert "'teaser': expected a string" in (tmp_path / "failed" / "a-bad.json.reason.txt").read_text()
    assert (tmp_path / "done" / "b-good.json").exists()
    assert [story.guid for story in publisher.published] == ["urn:test:good"]


def test_drop_folder_fails_a_file_that_trips_a_parser_bug(tmp_path, monkeypatch):
    real_parse = dropfolder.parse_bytes

    def buggy(data, **kwargs):
        if kwargs.get("filename") == "a-trips.json":
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(data, **kwargs)

    monkeypatch.setattr(dropfolder, "parse_bytes", buggy)
    _write(tmp_path, "a-trips.json", GOOD)
    _write(tmp_path, "b-good.json", {**GOOD, "guid": "urn:test:good-2"})
    publisher = RecordingPublisher()
    counts = _scan_until_settled(DropFolder(tmp_path, publisher, max_bytes=1_000_000))
    assert counts == {"done": 1, "failed": 1, "retry": 0}
    assert "nested too deeply" in (tmp_path / "failed" / "a-trips.json.reason.txt").read_text()
    assert [story.guid for story in publisher.published] == ["urn:test:good-2"]


def test_cli_ingest_reports_bad_files_and_finishes_the_run(tmp_path, monkeypatch):
    _write(tmp_path, "a-bad.json", BAD_TYPES)
    (tmp_path / "b-deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    _write(tmp_path, "c-trips.json", GOOD)
    _write(tmp_path, "d-good.json", {**GOOD, "guid": "urn:test:good-4"})
    real_parse = files.parse_bytes

    def buggy(data, **kwargs):
        if kwargs.get("filename") == "c-trips.json":
            raise ValueError("parser bug")
        return real_parse(data, **kwargs)

    monkeypatch.setattr(files, "parse_bytes", buggy)
    publisher = RecordingPublisher()
    summary = ingest_paths([tmp_path], publisher, max_bytes=10_000_000, show_progress=False)
    assert summary.files == 4 and summary.accepted == 1
    reasons = {where.rsplit("/", 1)[-1]: reason for where, reason in summary.rejected}
    assert "'teaser': expected a string" in reasons["a-bad.json"]
    assert "nested too deeply" in reasons["b-deep.json"]
    assert reasons["c-trips.json"] == "unreadable: ValueError: parser bug"
    assert [story.guid for story in publisher.published] == ["urn:test:good-4"]
