"""Story text cut into plain segments and entity marks, for the story page.

Entity offsets index into ``headline + "\\n\\n" + body`` (shared.contract.story_text),
counted in Python characters, so the cutting happens here on the server, never in
the browser (JavaScript counts UTF-16 units). The result is data, not HTML: the
template escapes every segment. Offsets that are out of range, empty or overlap an
earlier mark are skipped, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract import story_text


@dataclass(frozen=True)
class Mark:
    label: str
    key: str
    method: str
    entity: str  # the entity's canonical text


@dataclass(frozen=True)
class Segment:
    text: str
    mark: Mark | None = None


def offset_pairs(flat_or_pairs) -> list[tuple[int, int]]:
    """Elasticsearch keeps offsets flat ([s, e, s, e]); the envelope has pairs."""
    values = list(flat_or_pairs or [])
    if values and isinstance(values[0], (list, tuple)):
        return [(int(pair[0]), int(pair[1])) for pair in values if len(pair) == 2]
    return [(int(values[i]), int(values[i + 1])) for i in range(0, len(values) - 1, 2)]


def mark_spans(entities: list[dict], text_length: int) -> list[tuple[int, int, Mark]]:
    """Non-overlapping spans sorted by start; on overlap the longer (then earlier) mention wins."""
    candidates = []
    for entity in entities:
        mark = Mark(label=str(entity.get("label", "")), key=str(entity.get("key", "")),
                    method=str(entity.get("method", "")), entity=str(entity.get("text", "")))
        for start, end in offset_pairs(entity.get("offsets")):
            if 0 <= start < end <= text_length:
                candidates.append((start, end, mark))
    candidates.sort(key=lambda span: (-(span[1] - span[0]), span[0]))
    chosen: list[tuple[int, int, Mark]] = []
    for start, end, mark in candidates:
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, mark))
    return sorted(chosen, key=lambda span: span[0])


def segments(text: str, spans: list[tuple[int, int, Mark]], start: int, end: int) -> list[Segment]:
    """The part [start, end) of text as segments, marks clipped to it."""
    out: list[Segment] = []
    position = start
    for span_start, span_end, mark in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end or span_start < position:
            continue
        if span_start > position:
            out.append(Segment(text[position:span_start]))
        out.append(Segment(text[span_start:span_end], mark))
        position = span_end
    if position < end:
        out.append(Segment(text[position:end]))
    return out


def marked_story(headline: str, body: str, entities: list[dict]) -> tuple[list[Segment], list[list[Segment]]]:
    """(headline segments, body paragraphs as segment lists) with every entity marked."""
    headline, body = headline or "", body or ""
    text = story_text(headline, body)
    spans = mark_spans(entities, len(text))
    head = segments(text, spans, 0, len(headline)) if headline else []
    body_start = len(headline) + 2 if headline and body else 0
    paragraphs: list[list[Segment]] = []
    position = body_start
    while body and position <= len(text):
        boundary = text.find("\n\n", position)
        paragraph_end = len(text) if boundary == -1 else boundary
        if text[position:paragraph_end].strip():
            paragraphs.append(segments(text, spans, position, paragraph_end))
        if boundary == -1:
            break
        position = boundary + 2
    return head, paragraphs
