"""Plain-text stories with a dateline, the form agencies' text feeds and our seeds use.

Datelines, alone on the first line or opening the first paragraph
(`Tokyo (AFP)`, `Tokyo (AFP) - New coup...`, `CHATHAM, Mass. (AP) _ ...`,
`LONDON, March 3 - ...`, `PARIS, 3 mars (Reuters) - ...`), are read by
`shared.dateline`, the parser the extract service uses too, so both services
agree on what the dateline is; its docstring lists the forms and why an
ordinary sentence with a dash or parentheses is left alone.

The dateline is parsed into `dateline` but stays in the body: the stored text
is what the agency sent, and entity offsets point into it (extract keeps the
dateline out of NER and reports its place itself).

Headline rule: when the first paragraph is short (at most 200 characters),
is not a dateline and does not end like a sentence, it is the headline and is
taken out of the body. Otherwise the story has no headline: we do not invent
one from the body, because the body would then say it twice (duplicate
entity mentions, offsets that point at a copy).
"""

from __future__ import annotations

import re

from shared.contract import Dateline, Story, story_id
from shared.dateline import parse_dateline as shared_parse_dateline
from services.ingest.formats.errors import InputError

HEADLINE_MAX = 200

def parse_dateline(line: str) -> tuple[Dateline, str] | None:
    """(dateline, rest of the line) when the line opens with a dateline."""
    stripped = line.lstrip()
    parsed = shared_parse_dateline(stripped)
    if parsed is None:
        return None
    return parsed.to_contract(), stripped[parsed.end:].strip()


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [" ".join(p.split()) if "\n" not in p.strip() else p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _looks_like_headline(paragraph: str) -> bool:
    return len(paragraph) <= HEADLINE_MAX and "\n" not in paragraph and not paragraph.rstrip().endswith((".", "!", "?", "…", '"', "»"))


def parse_plaintext(text: str) -> Story:
    paragraphs = _paragraphs(text)
    if not paragraphs:
        raise InputError("empty item: no text")
    headline = ""
    found = parse_dateline(paragraphs[0].partition("\n")[0])
    if not found and len(paragraphs) > 1 and _looks_like_headline(paragraphs[0]):
        headline, paragraphs = paragraphs[0], paragraphs[1:]
        found = parse_dateline(paragraphs[0].partition("\n")[0])
    dateline = found[0] if found else None
    body = "\n\n".join(paragraphs)
    if dateline is not None and not headline and body.strip() == dateline.text:
        raise InputError("empty item: only a dateline")
    source = dateline.agency if dateline and dateline.agency else "unknown"
    return Story(
        id=story_id(source, None, headline, body),
        source=source,
        format="plaintext",
        headline=headline,
        body=body,
        dateline=dateline,
    )
