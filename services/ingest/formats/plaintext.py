"""Plain-text stories with a dateline, the form agencies' text feeds and our seeds use.

Recognised datelines, alone on the first line or opening the first paragraph:
  `Tokyo (AFP)`, `Tokyo (AFP) - New coup...`, `CHATHAM, Mass. (AP) _ ...`,
  `LONDON, March 3 - ...`, `PARIS, 3 mars (Reuters) - ...`
A candidate counts as a dateline only if it names an agency, a date, or an
all-capitals place, so an ordinary sentence with a dash is left alone.

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
from services.ingest.formats.errors import InputError

HEADLINE_MAX = 200

_DATELINE = re.compile(
    r"""^(?P<place>[A-ZÀ-Ý][\w.'’\- ]{0,40}?)
        (?:,\s*(?P<region>[A-Z][a-z]{1,5}\.|[A-Z]\.[A-Z]\.))?
        (?:,\s*(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\d{1,2}\.?\s+[a-zéû]{3,9}\.?))?
        \s*(?:\((?P<agency>[A-Za-z][\w\-/ ]{0,20})\))?
        \s*(?:(?P<sep>[-–—_:]{1,2})(?:\s+|$)|$)""",
    re.VERBOSE,
)


def parse_dateline(line: str) -> tuple[Dateline, str] | None:
    """(dateline, rest of the line) when the line opens with a dateline."""
    match = _DATELINE.match(line)
    if not match:
        return None
    place, agency, date = match["place"].strip(), match["agency"], match["date"]
    if not (agency or date or (place.isupper() and len(place) > 1)):
        return None
    if not match["sep"] and line[match.end():].strip():
        return None
    text = line[: match.end()].strip()
    if match["region"]:
        place = f"{place}, {match['region']}"
    return Dateline(text=text, place=place, agency=agency, date=date), line[match.end():].strip()


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
