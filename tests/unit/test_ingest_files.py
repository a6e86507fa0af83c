"""`wirestream ingest` when Kafka stops acknowledging or a path is missing: a summary, not a traceback."""

from __future__ import annotations

import json

from services.ingest.files import ingest_paths
from services.ingest.admission import StoryLimits


class FlakyPublisher:
    limits = StoryLimits()  # Kafka's default broker limit

    """Acknowledges the first `ok` publishes, then fails like a broker gone away."""

    def __init__(self, ok: int):
        self.ok = ok
        self.published = []

    def publish(self, stories):
        if self.ok <= 0:
            raise RuntimeError("KafkaTimeoutError: batch expired")
        self.ok -= 1
        self.published.extend(stories)


def _story_file(folder, name, guid):
    (folder / name).write_text(json.dumps({"guid": guid, "source": "TEST", "headline": guid, "body": "Text."}))


def test_kafka_failing_mid_run_lists_the_unsent_files_in_the_summary(tmp_path):
    for i in range(4):
        _story_file(tmp_path, f"{i}.json", f"urn:test:{i}")
    publisher = FlakyPublisher(ok=2)
    summary = ingest_paths([tmp_path], publisher, max_bytes=1_000_000, show_progress=False)
    assert [s.guid for s in publisher.published] == ["urn:test:0", "urn:test:1"]
    assert summary.accepted == 2
    assert [p.rsplit("/", 1)[-1] for p in summary.not_sent] == ["2.json", "3.json"]
    text = "\n".join(summary.lines())
    assert "NOT SENT: 2 files" in text and "batch expired" in text


def test_a_missing_path_is_rejected_and_the_other_paths_ingested(tmp_path):
    _story_file(tmp_path, "a.json", "urn:test:a")
    publisher = FlakyPublisher(ok=10)
    summary = ingest_paths([tmp_path / "nope", tmp_path / "a.json"], publisher, max_bytes=1_000_000,
                           show_progress=False)
    assert summary.accepted == 1 and not summary.not_sent
    assert summary.rejected == [(str(tmp_path / "nope"), f"no such file or folder: {tmp_path / 'nope'}")]


class RecordingPublisher:
    limits = StoryLimits()  # Kafka's default broker limit

    def __init__(self):
        self.published = []

    def publish(self, stories):
        self.published.extend(stories)


def test_two_bad_drop_files_of_one_name_each_keep_their_own_reason(tmp_path):
    from services.ingest.dropfolder import DropFolder

    folder = DropFolder(tmp_path, RecordingPublisher(), max_bytes=1_000_000)
    for body in (b'{"headline": ["not", "text"]}', b"<nitf><body>unclosed"):
        (tmp_path / "story.xml").write_bytes(body)
        folder.scan_once()
        folder.scan_once()  # a file is taken once it is unchanged between two scans
    failed = sorted((tmp_path / "failed").iterdir())
    files_ = [p for p in failed if not p.name.endswith(".reason.txt")]
    reason_files = [p for p in failed if p.name.endswith(".reason.txt")]
    assert len(files_) == 2 and len(reason_files) == 2
    for path in files_:
        assert path.with_name(path.name + ".reason.txt").read_text().strip()
    texts = {p.read_text() for p in reason_files}
    assert len(texts) == 2, "the second failure overwrote the first one's reason"
