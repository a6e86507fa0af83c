"""The drop folder: wire files put into a folder are ingested, then moved.

    <drop_dir>/story.xml          picked up on the next scan
    <drop_dir>/done/story.xml     every story in it is in Kafka
    <drop_dir>/failed/story.xml   plus story.xml.reason.txt saying why

A file is taken only when complete: names starting with '.' or ending in
'.tmp'/'.part' are skipped (write under such a name, then rename), and a file
whose size or mtime changed since the last scan waits for the next one. If
Kafka is unavailable the file stays where it is and is tried again later, so
nothing is lost and nothing is moved to done/ before it is safe.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared import metrics
from services.ingest.formats import InputError, parse_bytes
from services.ingest.formats.errors import unexpected_reason
from services.ingest.publisher import StoryPublisher

log = logging.getLogger(__name__)

INCOMPLETE_SUFFIXES = (".tmp", ".part", ".partial")


@dataclass
class DropFolder:
    root: Path
    publisher: StoryPublisher
    max_bytes: int
    _seen: dict[Path, tuple[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("done", "failed"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _ready_files(self) -> list[Path]:
        ready, current = [], {}
        for path in sorted(self.root.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(INCOMPLETE_SUFFIXES):
                continue
            stat = path.stat()
            current[path] = (stat.st_size, stat.st_mtime)
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

    def _ingest_file(self, path: Path) -> str:
        metrics.MESSAGES_IN.labels("ingest").inc()
        started = time.perf_counter()
        try:
            data = path.read_bytes()
        except OSError as exc:  # removed or locked since it was listed: look again next scan
            log.warning("could not read %s (will retry): %r", path.name, exc)
            self._seen.pop(path, None)
            return "retry"
        try:
            result = parse_bytes(data, filename=path.name, max_bytes=self.max_bytes)
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
        metrics.MESSAGES_OUT.labels("ingest").inc(len(result.stories))
        metrics.BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
        moved = self._move(path, "done")
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
        if target.exists():
            target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
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
