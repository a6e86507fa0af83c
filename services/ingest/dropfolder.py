"""The drop folder: wire files put into a folder are ingested, then moved.

    <drop_dir>/story.xml          picked up on the next scan
    <drop_dir>/done/story.xml     every story in it is in Kafka
    <drop_dir>/failed/story.xml   plus story.xml.reason.txt saying why

A file is taken only when complete: names starting with '.' or ending in
'.tmp'/'.part' are skipped (write under such a name, then rename), and a file
whose size or mtime changed since the last scan waits for the next one. If
Kafka is unavailable the file stays where it is and is tried again later, so
nothing is lost and nothing is moved to done/ before it is safe.

Only regular files are read: a symbolic link (which could point at any file the
service can read) or a FIFO, socket or device goes to failed/ unread, and so does
a file larger than max_item_bytes, refused from its size before any byte is read.
The file is opened without following links (O_NOFOLLOW) and checked again on the
open descriptor, so a link swapped in after the scan is refused too.

Published files are remembered (name + size + mtime + SHA-256, in
`<state_dir>/dropfolder.json`) until they are moved: if the move to done/ fails,
later scans retry the move without publishing the file again, also after a restart.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared import metrics
from services.ingest.admission import admit
from services.ingest.formats import InputError, parse_bytes
from services.ingest.formats.errors import unexpected_reason
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)

INCOMPLETE_SUFFIXES = (".tmp", ".part", ".partial")
# Published-but-not-moved entries older than this are dropped from the ledger: a file
# whose move kept failing for a week has an operator problem the logs have shown.
LEDGER_KEEP_S = 7 * 24 * 3600


class Refused(Exception):
    """A file that must not be read: it goes to failed/ with this reason."""


@dataclass(frozen=True)
class FileKey:
    """Identifies one published version of a file: a file changed in any way is new."""

    name: str
    size: int
    mtime_ns: int
    sha256: str

    def text(self) -> str:
        return f"{self.name}\x1f{self.size}\x1f{self.mtime_ns}\x1f{self.sha256}"


@dataclass
class PublishedLedger:
    """Files published but not yet moved to done/, persisted so a restart does not republish them."""

    path: Path | None
    entries: dict[str, float] = field(default_factory=dict)  # FileKey.text() -> when published

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            try:
                self.entries = {str(k): float(v) for k, v in json.loads(self.path.read_text()).items()}
            except (OSError, ValueError, AttributeError):
                log.warning("unreadable drop folder ledger %s; starting afresh", self.path)

    def __contains__(self, key: FileKey) -> bool:
        return key.text() in self.entries

    def add(self, key: FileKey) -> None:
        self.entries[key.text()] = time.time()
        self._save()

    def discard(self, key: FileKey) -> None:
        if self.entries.pop(key.text(), None) is not None:
            self._save()

    def _save(self) -> None:
        cutoff = time.time() - LEDGER_KEEP_S
        self.entries = {key: at for key, at in self.entries.items() if at >= cutoff}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries))
        tmp.replace(self.path)  # atomic: a crash never leaves half a ledger


@dataclass
class DropFolder:
    root: Path
    publisher: StoryPublisher
    max_bytes: int
    state_file: Path | None = None  # the ledger of published files; None keeps it in memory only
    _seen: dict[Path, tuple[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("done", "failed"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.ledger = PublishedLedger(self.state_file)

    def _ready_files(self) -> list[Path]:
        ready, current = [], {}
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or path.name.endswith(INCOMPLETE_SUFFIXES):
                continue
            try:
                info = path.lstat()  # the entry itself: a link is not followed
            except OSError:
                continue  # gone since it was listed
            if stat.S_ISDIR(info.st_mode):
                continue  # done/, failed/, or a folder someone made: not ours to judge
            current[path] = (info.st_size, info.st_mtime)
            if self._seen.get(path) == current[path]:
                ready.append(path)  # unchanged since the last scan: the writer is done
        self._seen = current
        return ready

    def scan_once(self) -> dict[str, int]:
        counts = {"done": 0, "failed": 0, "retry": 0}
        for path in self._ready_files():
            try:
                counts[self._ingest_file(path)] += 1
            except Exception:  # noqa: BLE001 - one file (say, one we cannot move) must not stop the others
                log.exception("could not process %s; it stays for the next scan", path.name)
                self._seen.pop(path, None)
                counts["retry"] += 1
        return counts

    def _read(self, path: Path) -> tuple[bytes, FileKey]:
        """The file's bytes, read only if it is a regular file (not a link) within the limit."""
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            raise Refused("a symbolic link: only regular files are read from the drop folder")
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file (a FIFO, socket or device): only regular files are read")
        if info.st_size > self.max_bytes:
            raise Refused(f"file of {info.st_size} bytes exceeds the limit of {self.max_bytes} "
                          "(WIRESTREAM_MAX_ITEM_BYTES); not read")
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link swapped in since lstat
                raise Refused("a symbolic link: only regular files are read from the drop folder") from exc
            raise
        with os.fdopen(fd, "rb") as handle:
            opened = os.fstat(handle.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise Refused("not a regular file: only regular files are read from the drop folder")
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:  # grew since it was measured
            raise Refused(f"file exceeds the limit of {self.max_bytes} bytes (WIRESTREAM_MAX_ITEM_BYTES)")
        key = FileKey(path.name, opened.st_size, opened.st_mtime_ns, hashlib.sha256(data).hexdigest())
        return data, key

    def _ingest_file(self, path: Path) -> str:
        metrics.MESSAGES_IN.labels("ingest").inc()
        started = time.perf_counter()
        try:
            data, key = self._read(path)
        except Refused as exc:
            return self._fail(path, str(exc))
        except OSError as exc:  # removed or locked since it was listed: look again next scan
            log.warning("could not read %s (will retry): %r", path.name, exc)
            self._seen.pop(path, None)
            return "retry"
        if key in self.ledger:
            # Published on an earlier scan (or before a restart); only its move failed.
            self._move(path, "done")
            self.ledger.discard(key)
            log.info("moved %s to done/ (published earlier)", path.name)
            return "done"
        try:
            result = admit(parse_bytes(data, filename=path.name, max_bytes=self.max_bytes), self.publisher.limits)
        except InputError as exc:
            return self._fail(path, exc.reason)
        except Exception as exc:  # noqa: BLE001 - a parser bug: the file goes to failed/ with the reason
            log.exception("parsing %s failed unexpectedly", path.name)
            return self._fail(path, f"unreadable: {unexpected_reason(exc)}")
        if not result.stories:
            return self._fail(path, "; ".join(f"item {e.index}: {e.reason}" for e in result.errors) or "no story")
        try:
            self.publisher.publish(result.stories)
        except Exception as exc:  # noqa: BLE001 - Kafka unavailable: keep the file, retry next scan
            log.warning("could not publish %s (will retry): %r", path.name, exc)
            self._seen.pop(path, None)
            return "retry"
        self.ledger.add(key)  # before the move: a failed move must not mean a second publish
        metrics.MESSAGES_OUT.labels("ingest").inc(len(result.stories))
        metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
        moved = self._move(path, "done")
        self.ledger.discard(key)
        if result.errors:
            # Some items of a multi-story file were unusable: say which, next to the file.
            reasons = "\n".join(f"item {e.index}: {e.reason}" for e in result.errors)
            moved.with_name(f"{moved.name}.reason.txt").write_text(reasons + "\n")
        log.info("ingested %s: %d stories", path.name, len(result.stories))
        return "done"

    def _fail(self, path: Path, reason: str) -> str:
        metrics.FAILURES.labels("ingest", "dropfolder_rejected").inc()
        moved = self._move(path, "failed")
        # Named after the moved file: a second bad file of the same name gets its own reason.
        moved.with_name(f"{moved.name}.reason.txt").write_text(reason + "\n")
        log.warning("rejected %s: %s", path.name, reason)
        return "failed"

    def _move(self, path: Path, sub: str) -> Path:
        target = self.root / sub / path.name
        if target.exists() or target.is_symlink():
            target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
        # os.rename moves a symbolic link itself, never the file it points at.
        shutil.move(str(path), target)
        self._seen.pop(path, None)
        return target


def watch(folder: DropFolder, interval_s: float, stop: threading.Event) -> None:
    log.info("watching drop folder %s every %.1fs", folder.root, interval_s)
    while not stop.is_set():
        try:
            folder.scan_once()
        except Exception:  # noqa: BLE001 - a scan error must not kill the watcher
            log.exception("drop folder scan failed")
        stop.wait(interval_s)
