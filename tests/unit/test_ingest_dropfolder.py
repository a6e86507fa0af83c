"""The drop folder reads only regular files within the limit, and never publishes a file
twice because its move to done/ failed (issue 9 items 12 and 13)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from services.ingest import dropfolder
from services.ingest.admission import StoryLimits
from services.ingest.dropfolder import DropFolder

REAL_MOVE = shutil.move
STORY = {"guid": "urn:test:drop", "source": "TEST", "headline": "Dropped", "body": "Through the folder."}


class RecordingPublisher:
    limits = StoryLimits()

    def __init__(self):
        self.published = []

    def publish(self, stories):
        self.published.extend(stories)


def _settle(folder: DropFolder, scans: int = 2) -> None:
    for _ in range(scans):  # a file is taken once it is unchanged between two scans
        folder.scan_once()


@pytest.fixture
def reads(monkeypatch):
    """Every path whose content the drop folder opened or read."""
    seen: list[str] = []
    real_open, real_read_bytes = os.open, Path.read_bytes
    monkeypatch.setattr(os, "open", lambda path, *a, **k: seen.append(Path(path).name) or
                        real_open(path, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda self: seen.append(self.name) or real_read_bytes(self))
    return seen


def test_a_symbolic_link_goes_to_failed_unread_and_its_target_is_untouched(tmp_path, reads):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text(json.dumps(STORY))  # a readable story, so only the link check can stop it
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "story.json").symlink_to(secret)
    publisher = RecordingPublisher()
    _settle(DropFolder(drop, publisher, max_bytes=1_000_000))
    assert publisher.published == [] and reads == []
    assert (drop / "failed" / "story.json").is_symlink()
    assert "symbolic link" in (drop / "failed" / "story.json.reason.txt").read_text()
    assert secret.read_text() == json.dumps(STORY)


def test_a_link_swapped_in_after_the_check_is_refused_when_opened(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    target = tmp_path / "target.json"
    target.write_text(json.dumps(STORY))
    folder = DropFolder(drop, RecordingPublisher(), max_bytes=1_000_000)
    link = drop / "story.json"
    link.symlink_to(target)
    with pytest.raises(dropfolder.Refused, match="symbolic link"):
        folder._read(link)


def test_an_oversize_file_goes_to_failed_without_being_read(tmp_path, reads):
    drop = tmp_path / "drop"
    drop.mkdir()
    with (drop / "huge.json").open("wb") as handle:
        handle.truncate(20_000_000)  # sparse: 20 MB on paper
    publisher = RecordingPublisher()
    _settle(DropFolder(drop, publisher, max_bytes=1_000_000))
    assert reads == [] and publisher.published == []
    reason = (drop / "failed" / "huge.json.reason.txt").read_text()
    assert "file of 20000000 bytes exceeds the limit of 1000000" in reason


def test_a_fifo_goes_to_failed_instead_of_blocking_the_scan(tmp_path, reads):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.mkfifo(drop / "pipe.json")
    (drop / "story.json").write_text(json.dumps(STORY))
    publisher = RecordingPublisher()
    _settle(DropFolder(drop, publisher, max_bytes=1_000_000))
    assert "not a regular file" in (drop / "failed" / "pipe.json.reason.txt").read_text()
    assert [s.guid for s in publisher.published] == ["urn:test:drop"]


def _failing_moves_to_done(monkeypatch, failures: list[int]):
    """shutil.move raising for moves into done/ while failures[0] > 0."""

    def move(src, dst):
        if Path(dst).parent.name == "done" and failures[0] > 0:
            failures[0] -= 1
            raise PermissionError(13, "Permission denied", str(dst))
        return REAL_MOVE(src, dst)

    monkeypatch.setattr(dropfolder.shutil, "move", move)


def test_a_file_whose_move_fails_is_published_once_and_moved_later(tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "story.json").write_text(json.dumps(STORY))
    failures = [3]
    _failing_moves_to_done(monkeypatch, failures)
    publisher = RecordingPublisher()
    folder = DropFolder(drop, publisher, max_bytes=1_000_000, state_file=tmp_path / "state" / "dropfolder.json")
    for _ in range(10):
        folder.scan_once()
    assert len(publisher.published) == 1  # before the fix: once per retried scan
    assert failures == [0] and (drop / "done" / "story.json").exists()
    assert json.loads((tmp_path / "state" / "dropfolder.json").read_text()) == {}  # forgotten once moved


def test_a_restart_remembers_what_was_published_but_not_moved(tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "story.json").write_text(json.dumps(STORY))
    state = tmp_path / "state" / "dropfolder.json"
    _failing_moves_to_done(monkeypatch, [1000])
    first = RecordingPublisher()
    _settle(DropFolder(drop, first, max_bytes=1_000_000, state_file=state))
    assert len(first.published) == 1 and (drop / "story.json").exists()
    _failing_moves_to_done(monkeypatch, [0])
    after_restart = RecordingPublisher()
    _settle(DropFolder(drop, after_restart, max_bytes=1_000_000, state_file=state))
    assert after_restart.published == []
    assert (drop / "done" / "story.json").exists()


def test_a_changed_file_under_the_same_name_is_published_again(tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "story.json").write_text(json.dumps(STORY))
    state = tmp_path / "state" / "dropfolder.json"
    _failing_moves_to_done(monkeypatch, [1000])
    publisher = RecordingPublisher()
    folder = DropFolder(drop, publisher, max_bytes=1_000_000, state_file=state)
    _settle(folder)
    (drop / "story.json").write_text(json.dumps(STORY | {"body": "Corrected text."}))
    _settle(folder, 3)
    assert [s.body for s in publisher.published] == ["Through the folder.", "Corrected text."]
