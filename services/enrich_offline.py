"""`wirestream enrich`: the pipeline's enrichment without Kafka.

Reads stories (files in any supported format, or JSON lines / plain text on
stdin), runs exactly the functions the langdetect and extract services run,
and prints one enriched envelope per line. Entity offsets index into the
`text` field printed with each story (headline + blank line + body).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from shared.contract import Story
from shared.runner import Rejected, process_isolating_failures
from services.extract.nlp import Enricher
from services.ingest.files import iter_files, parse_file
from services.ingest.formats import InputError, parse_bytes
from services.langdetect.service import detect_languages


def read_stdin(data: bytes) -> tuple[list[Story], list[str]]:
    """JSON lines (one story each) or, failing that, the whole input as one item."""
    lines = [line for line in data.splitlines() if line.strip()]
    stories, errors = [], []
    if lines and lines[0].lstrip().startswith(b"{"):
        for number, line in enumerate(lines, start=1):
            try:
                stories.extend(parse_bytes(line, content_type="application/json").stories)
            except InputError as exc:
                errors.append(f"stdin line {number}: {exc.reason}")
        return stories, errors
    try:
        return parse_bytes(data).stories, errors
    except InputError as exc:
        return [], [f"stdin: {exc.reason}"]


def read_paths(paths: Iterable[Path]) -> tuple[list[Story], list[str]]:
    """Like `wirestream ingest`: a file that cannot be read or parsed is reported and
    the others go on; a path that does not exist is an error, not a traceback."""
    files, missing = iter_files(paths)
    stories, errors = [], [reason for _, reason in missing]
    for path in files:
        try:
            stories.extend(parse_file(path).stories)
        except InputError as exc:
            errors.append(f"{path}: {exc.reason}")
    return stories, errors


def enrich_stories(stories: list[Story], enricher: Enricher, und_threshold: float,
                   errors: list[str] | None = None) -> Iterator[dict]:
    """The services' processing (langdetect, then extract), isolated per story as the
    services isolate it: a story that makes it fail is reported (the services
    dead-letter it) and the rest are still printed."""
    def process(batch: list[Story]) -> list[Story]:
        return enricher.enrich(detect_languages(batch, und_threshold))

    for start in range(0, len(stories), enricher.batch_size):
        batch = stories[start:start + enricher.batch_size]
        for original, outcome in zip(batch, process_isolating_failures(process, batch)):
            if isinstance(outcome, Rejected):
                if errors is not None:
                    errors.append(f"story {original.id}: {outcome.reason_class}: {outcome.reason}")
                continue
            yield {**json.loads(outcome.to_json()), "text": outcome.text}


def main(paths: list[str], und_threshold: float, batch_size: int, extra_names: str | None = None) -> int:
    if paths:
        stories, errors = read_paths(Path(p) for p in paths)
    else:
        stories, errors = read_stdin(sys.stdin.buffer.read())
    for error in errors:
        print(f"rejected {error}", file=sys.stderr)
    enricher = Enricher(batch_size=batch_size, extra_names=extra_names)
    failed: list[str] = []
    printed = 0
    for line in enrich_stories(stories, enricher, und_threshold, failed):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        printed += 1
    for error in failed:
        print(f"failed {error}", file=sys.stderr)
    return 1 if (errors or failed) and not printed else 0
