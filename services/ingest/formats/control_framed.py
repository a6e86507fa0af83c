"""Control-character-framed agency text: IPTC 7901 and ANPA-1312.

Both frame a story as SOH <header> STX <text> ETX. These formats legitimately
contain control characters, so they are recognised before the binary-junk
check. IPTC 7901 (dpa): header `eca062 4 i 211 ccccb dpa 061` (service,
priority, category, word count, ..., agency), then a keyword line, then STX,
the headline (ending in " ="), and the text. ANPA-1312 (AP): SYN SYN SOH,
selector codes, a slug line, STX, then `^`-prefixed headline, notes and
by-lines (ending in `<` or `=`) and tab-indented paragraphs.
"""

from __future__ import annotations

import re

from services.ingest.formats.common import build_story, normalise_paragraphs
from services.ingest.formats.errors import InputError, ParseResult
from services.ingest.formats.plaintext import parse_dateline

SOH, STX, ETX, SYN = "\x01", "\x02", "\x03", "\x16"


def looks_control_framed(data: bytes) -> str | None:
    head = data[:600]
    # The frame opens the transmission: [SYN SYN] SOH ... STX. Anything else with
    # control bytes (NULs above all) is not an agency text, whatever it contains.
    if b"\x00" in head or not head.lstrip(b"\x16").startswith(b"\x01") or b"\x02" not in data:
        return None
    return "anpa1312" if head.startswith(b"\x16") or b"\x1f" in head[:80] else "iptc7901"


def _framed_text(text: str) -> tuple[str, str]:
    """(header, body text) with the framing characters removed."""
    header, _, rest = text.partition(STX)
    body = rest.split(ETX, 1)[0]
    return header.replace(SOH, "").replace(SYN, ""), body.replace("\r", "")


def _clean(line: str) -> str:
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", line).strip()


def parse_iptc7901(text: str) -> ParseResult:
    header, body = _framed_text(text)
    header_fields = _clean(header.split("\n", 1)[0]).split()
    slug_lines = [_clean(line) for line in header.split("\n")[1:] if _clean(line)]
    lines = body.split("\n")
    headline_index = next((i for i, line in enumerate(lines) if _clean(line).endswith("=")), None)
    if headline_index is None:
        headline_index = next((i for i, line in enumerate(lines) if _clean(line) and _clean(line) != "EXTRA"), 0)
    headline = _clean(lines[headline_index]).rstrip("=").strip() if lines else ""
    text_body = normalise_paragraphs("\n".join(lines[headline_index + 1:]))
    if not headline and not text_body:
        raise InputError("IPTC 7901 item without text")
    agency = next((f for f in header_fields if f.isalpha() and len(f) <= 6 and f not in ("i", "a", "s")), None)
    dateline = parse_dateline(text_body.split("\n", 1)[0]) if text_body else None
    priority = header_fields[1] if len(header_fields) > 1 and header_fields[1].isdigit() else None
    return ParseResult(format="iptc7901", stories=[build_story(
        source=agency or "unknown", guid=None, headline=headline, body=text_body, fmt="iptc7901",
        dateline=dateline[0] if dateline else None, urgency=int(priority) if priority else None,
        subjects=slug_lines[:1],
    )])


def parse_anpa1312(text: str) -> ParseResult:
    header, body = _framed_text(text)
    slug = next((_clean(line) for line in header.split("\n") if "BC-" in line), "")
    headline, byline, paragraphs, current = "", [], [], []
    for raw in body.split("\n"):
        line = _clean(raw.replace("\t", "    "))
        if raw.lstrip("\x02").startswith("^") or raw.startswith("\x02^"):
            note = line.lstrip("^").rstrip("<=").strip()
            if note.startswith(("BC-", "AP Photo", "Eds:")) or not note:
                continue
            if note.startswith("By "):
                byline.append(note)
            elif not headline:
                headline = note
            elif byline:
                byline.append(note)  # the by-line's second line: the writer's title
            continue
        if raw.startswith(("\t", "   ")) and current:
            paragraphs.append(" ".join(current))
            current = []
        cleaned = line.rstrip("<").strip()
        if cleaned and not re.fullmatch(r"(AP-\S+|\d{2}-\d{2}-\d{2} \d{4}\w*|END \w*)", cleaned):
            current.append(cleaned)
    if current:
        paragraphs.append(" ".join(current))
    text_body = "\n\n".join(p for p in paragraphs if p)
    if not headline and not text_body:
        raise InputError("ANPA-1312 item without text")
    dateline = parse_dateline(text_body.split("\n", 1)[0]) if text_body else None
    return ParseResult(format="anpa1312", stories=[build_story(
        source=(dateline[0].agency if dateline and dateline[0].agency else "AP"), guid=None, headline=headline,
        body=text_body, fmt="anpa1312", dateline=dateline[0] if dateline else None,
        byline=", ".join(byline) or None, subjects=[slug.split()[0]] if slug else [],
    )])
