"""`wirestream ingest PATH...`: parse files and folders, publish the stories.

Every file is parsed with the same detector as the HTTP API; the run ends with
a summary: stories accepted, duplicates (the same story id met again in this
run; Elasticsearch would overwrite it anyway), and files or items rejected
with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from shared.contract import Story, utcnow
from services.ingest.admission import StoryLimits, admit
from services.ingest.formats import DEFAULT_MAX_BYTES, InputError, parse_bytes
from services.ingest.formats.errors import ParseResult, unexpected_reason
from services.ingest.publisher import StoryPublisher

IGNORED_NAMES = {"PROVENANCE.txt", "README.md", "ATTRIBUTION.md", "LICENSE", "MANIFEST.tsv"}


@dataclass
class IngestSummary:
    files: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    not_sent: list[str] = field(default_factory=list)  # files left unsent when Kafka stopped acknowledging
    kafka_error: str = ""
    formats: dict[str, int] = field(default_factory=dict)
    visible_ids: set[str] = field(default_factory=set)  # accepted stories search should show now

    def lines(self) -> list[str]:
        out = [
            f"files read: {self.files}",
            f"stories accepted: {self.accepted}",
            f"duplicates in this run: {self.duplicates}",
            f"rejected: {len(self.rejected)}",
        ]
        if self.formats:
            out.append("formats: " + ", ".join(f"{name} {count}" for name, count in sorted(self.formats.items())))
        out.extend(f"  rejected {where}: {reason}" for where, reason in self.rejected)
        if self.not_sent:
            out.append(f"NOT SENT: {len(self.not_sent)} files, Kafka did not acknowledge ({self.kafka_error}); "
                       "ingest them again (ids are deterministic, so what did arrive is not duplicated):")
            out.extend(f"  not sent {path}" for path in self.not_sent)
        return out


def iter_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files under `paths` (folders walked), and (path, reason) for each path that
    does not exist: a mistyped path is reported, the other paths still read."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p))
        elif path.is_file():
            files.append(path)
        else:
            missing.append((str(path), f"no such file or folder: {path}"))
    return files, missing


def parse_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    """One file through the format detector; whatever makes it unusable (an unreadable
    file, bad input, a parser bug) is an InputError with the reason, so a caller
    reports the file and goes on."""
    try:
        size = path.stat().st_size
        if size > max_bytes:  # refused before reading: a huge file costs nothing
            raise InputError(f"file of {size} bytes exceeds the limit of {max_bytes} (WIRESTREAM_MAX_ITEM_BYTES)",
                             status=413)
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"unreadable file: {exc.strerror or exc}") from exc
    try:
        return parse_bytes(data, filename=path.name, max_bytes=max_bytes)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser bug rejects this file, never the run
        raise InputError(f"unreadable: {unexpected_reason(exc)}") from exc


def _visible_now(story: Story) -> bool:
    embargoed = story.embargo_until is not None and story.embargo_until > utcnow()
    return story.pub_status == "usable" and not embargoed


def _wanted(path: Path) -> bool:
    return path.name not in IGNORED_NAMES and not path.name.startswith(("_", "."))


def ingest_paths(paths: list[Path], publisher: StoryPublisher | None, max_bytes: int,
                 show_progress: bool = True) -> IngestSummary:
    """Parse every file; publish its stories unless publisher is None (a dry run).
    Each story must also pass admission (record size from the broker's limit, version):
    a refused story is listed with its file and item, the rest of the file goes on."""
    limits = publisher.limits if publisher is not None else StoryLimits()
    summary = IngestSummary()
    seen: set[tuple[str, int]] = set()
    files, summary.rejected = iter_files(paths)
    for number, path in enumerate(tqdm(files, desc="ingest", unit="file", disable=not show_progress)):
        summary.files += 1
        try:
            result = admit(parse_file(path, max_bytes), limits)
        except InputError as exc:
            summary.rejected.append((str(path), exc.reason))
            continue
        summary.rejected.extend((f"{path} item {err.index}", err.reason) for err in result.errors)
        fresh: list[Story] = []
        for story in result.stories:
            if (story.id, story.version) in seen:
                summary.duplicates += 1
                continue
            seen.add((story.id, story.version))
            fresh.append(story)
        if publisher is not None and fresh:
            try:
                publisher.publish(fresh)
            except Exception as exc:  # noqa: BLE001 - Kafka down or refusing: stop sending, still summarise
                summary.kafka_error = unexpected_reason(exc)
                summary.not_sent = [str(p) for p in files[number:]]
                break
        summary.accepted += len(fresh)
        summary.visible_ids.update(s.id for s in fresh if _visible_now(s))
        summary.formats[result.format] = summary.formats.get(result.format, 0) + len(fresh)
    return summary
