"""Text preparation: what NER reads, and what it must not.

``prepare(text)`` cuts ``story.text`` into segments (one per line, so that a
heading never runs into the paragraph after it), drops blank lines, parses a
leading dateline ("Tokyo (AFP) -", "CHATHAM, Mass. (AP) _", "LONDON 1996-08-30")
and trailing copyright/footer lines ("© 2019 AFP"), and keeps those out of the
segments handed to NER. The dateline parser is ``shared.dateline``, the one
ingest fills ``Story.dateline`` with. Every segment carries its start offset
into ``text``, so entity offsets always point into the story text as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The dateline grammar is shared with the ingest service (one parser, one answer).
from shared.dateline import ParsedDateline, parse_dateline

_FOOTER = re.compile(
    r"^\s*(?:©|\(c\)|copyright\b)\s*(?:(?P<year>\d{4})\s*)?(?P<agency>[^\n]{0,60}?)\s*$",
    re.IGNORECASE,
)


@dataclass
class Prepared:
    segments: list[tuple[int, str]] = field(default_factory=list)  # (start offset, text)
    dateline: ParsedDateline | None = None
    footers: list[tuple[int, int]] = field(default_factory=list)
    footer_agency: str | None = None
    footer_year: int | None = None
    footer_agency_span: tuple[int, int] | None = None


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def prepare(text: str, headline: str = "") -> Prepared:
    prep = Prepared()
    lines = [(o, ln) for o, ln in _lines(text) if ln.strip()]
    # The dateline sits at the start of the body: first non-blank line after the headline.
    body_start = len(headline) + 2 if headline and text.startswith(headline + "\n\n") else 0
    first_body = next((i for i, (o, _) in enumerate(lines) if o >= body_start), None)
    if first_body is not None:
        o, ln = lines[first_body]
        lead = len(ln) - len(ln.lstrip())
        dl = parse_dateline(ln.lstrip(), o + lead)
        if dl is not None:
            prep.dateline = dl
            rest = ln[dl.end - o:]
            if rest.strip():
                lines[first_body] = (dl.end, rest)
            else:
                lines.pop(first_body)
    # Copyright / footer lines at the end (and anywhere, they are never story text).
    kept = []
    for o, ln in lines:
        m = _FOOTER.match(ln)
        if m:
            prep.footers.append((o, o + len(ln)))
            if m.group("year") and prep.footer_year is None:
                prep.footer_year = int(m.group("year"))
            agency = (m.group("agency") or "").strip(" .,-")
            if agency and prep.footer_agency is None and len(agency) <= 40:
                prep.footer_agency = agency
                s = o + m.start("agency")
                s += len(m.group("agency")) - len(m.group("agency").lstrip(" .,-"))
                prep.footer_agency_span = (s, s + len(agency))
            continue
        kept.append((o, ln))
    # Trim surrounding whitespace so spans stay tight.
    for o, ln in kept:
        lead = len(ln) - len(ln.lstrip())
        seg = ln.strip()
        if seg:
            prep.segments.append((o + lead, seg))
    return prep
