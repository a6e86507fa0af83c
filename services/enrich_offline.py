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
from services.extract.nlp import Enricher
from services.ingest.files import iter_files
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
    stories, errors = [], []
    for path in iter_files(paths):
        try:
            stories.extend(parse_bytes(path.read_bytes(), filename=path.name).stories)
        except InputError as exc:
            errors.append(f"{path}: {exc.reason}")
    return stories, errors


def enrich_stories(stories: list[Story], enricher: Enricher, und_threshold: float) -> Iterator[dict]:
    for start in range(0, len(stories), enricher.batch_size):
        batch = detect_languages(stories[start:start + enricher.batch_size], und_threshold)
        for story in enricher.enrich(batch):
            yield {**json.loads(story.to_json()), "text": story.text}


def main(paths: list[str], und_threshold: float, batch_size: int) -> int:
    if paths:
        stories, errors = read_paths(Path(p) for p in paths)
    else:
        stories, errors = read_stdin(sys.stdin.buffer.read())
    for error in errors:
        print(f"rejected {error}", file=sys.stderr)
    enricher = Enricher(batch_size=batch_size)
    for line in enrich_stories(stories, enricher, und_threshold):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 1 if errors and not stories else 0
