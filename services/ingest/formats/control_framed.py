"""Control-character-framed agency text: IPTC 7901 and ANPA-1312.

Both frame a story as SOH <header> STX <text> ETX, and one transmission (file)
may hold several frames: each is one story, and an unusable frame becomes an
ItemError like an unusable item of any multi-item input. These formats
legitimately contain control characters, so they are recognised before the
binary-junk check.

IPTC 7901 (dpa): header `eca062 4 i 211 ccccb dpa 061` (service and message
number, priority, category, word count, optional fields, originator, a count),
then a keyword line, then STX and a heading block that ends in " =": flags in
capitals ("EXTRA", "1ST LEAD", "(Achtung)"), the headline, and often a by-line
("By dpa correspondents =") as its last line. The format has no story id (the
message number changes with every transmission, the keyword line is a topic
shared by many stories), so stories get no guid.

ANPA-1312 (AP): SYN SYN SOH, selector codes, a header slug line
`BC-US--Ethanol-LosingGra 1stLd-Writethru 11-13 1693` (keyword, version, filing
date), STX, then `^`-prefixed headline, notes and by-lines (ending in `<` or
`=`) and tab-indented paragraphs. The keyword and date identify the story
across its write-thrus, so they make the guid and "Nth Ld" the version.
"""

from __future__ import annotations

import re

from services.ingest.formats.common import build_story, normalise_paragraphs
from services.ingest.formats.errors import InputError, ParseResult, parse_items
from services.ingest.formats.plaintext import parse_dateline

SOH, STX, ETX, SYN = "\x01", "\x02", "\x03", "\x16"


def looks_control_framed(data: bytes) -> str | None:
    head = data[:600]
    # The frame opens the transmission: [SYN SYN] SOH ... STX. Anything else with
    # control bytes (NULs above all) is not an agency text, whatever it contains.
    if b"\x00" in head or not head.lstrip(b"\x16").startswith(b"\x01") or b"\x02" not in data:
        return None
    return "anpa1312" if head.startswith(b"\x16") or b"\x1f" in head[:80] else "iptc7901"


def _frames(text: str) -> list[str]:
    """Each SOH-opened frame of a transmission (the text before the first SOH is line noise)."""
    return [SOH + chunk for chunk in text.split(SOH)[1:]]


def _framed_text(frame: str) -> tuple[str, str, str]:
    """(header, body text, trailer after ETX) with the framing characters removed."""
    header, stx, rest = frame.partition(STX)
    if not stx:
        raise InputError("frame without STX (no text part)")
    body, _, trailer = rest.partition(ETX)
    return header.replace(SOH, "").replace(SYN, ""), body.replace("\r", ""), trailer


def _clean(line: str) -> str:
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", line).strip()


def _parse_framed(fmt: str, text: str, read) -> ParseResult:
    return parse_items(fmt, _frames(text), read)


# --- IPTC 7901 -------------------------------------------------------------------------

def _iptc_provider(header_fields: list[str]) -> str | None:
    """The originator: the last word of the header line that is not a number. Fields
    before it are optional codes ("ccccb"). "dpa-tns" is dpa's feed of Tribune News
    Service copy: the provider is the agency before the hyphen."""
    words = [field for field in header_fields[1:] if not field.isdigit()]
    return words[-1].split("-", 1)[0] if words and len(words[-1]) > 1 else None


def _is_flag(line: str) -> bool:
    """An editorial flag above the headline: capitals ("EXTRA", "1ST LEAD", "REFILE") or
    a parenthesised note ("(Achtung)"), never a headline in ordinary case."""
    has_letters = re.search(r"[^\W\d_]", line) is not None
    return (has_letters and line == line.upper()) or bool(re.fullmatch(r"\(.*\)", line))


def _heading_block(lines: list[str]) -> tuple[list[str], int]:
    """(heading lines without the " =" marker, index of the first body line)."""
    for index, line in enumerate(lines[:8]):
        if _clean(line).endswith("="):
            block = [_clean(entry) for entry in lines[:index + 1] if _clean(entry)]
            block[-1] = block[-1].rstrip("=").strip()
            return block, index + 1
    # No marker: the first line with text (a flag aside) is the headline.
    index = next((i for i, line in enumerate(lines) if _clean(line) and not _is_flag(_clean(line))), 0)
    return ([_clean(lines[index])] if lines else []), index + 1


def read_iptc7901_frame(frame: str):
    header, body, _ = _framed_text(frame)
    header_fields = _clean(header.split("\n", 1)[0]).split()
    slug_lines = [_clean(line) for line in header.split("\n")[1:] if _clean(line)]
    lines = body.split("\n")
    block, first_body_line = _heading_block(lines)
    byline = block.pop() if len(block) > 1 and block[-1].startswith("By ") else None
    headline = " ".join(line for line in block if not _is_flag(line)) or " ".join(block)
    text_body = normalise_paragraphs("\n".join(lines[first_body_line:]))
    if not headline and not text_body:
        raise InputError("IPTC 7901 item without text")
    dateline = parse_dateline(text_body.split("\n", 1)[0]) if text_body else None
    priority = header_fields[1] if len(header_fields) > 1 and header_fields[1].isdigit() else None
    return build_story(
        source=_iptc_provider(header_fields), guid=None, headline=headline, body=text_body, fmt="iptc7901",
        dateline=dateline[0] if dateline else None, urgency=int(priority) if priority else None,
        byline=byline, subjects=slug_lines[:1],
    )


def parse_iptc7901(text: str) -> ParseResult:
    return _parse_framed("iptc7901", text, read_iptc7901_frame)


# --- ANPA-1312 -------------------------------------------------------------------------

# keyword, optional version ("1stLd-Writethru"), filing date mm-dd, a count.
_ANPA_SLUG = re.compile(r"(?P<keyword>BC-\S+)(?:\s+(?P<version>\S+))?\s+(?P<date>\d{2}-\d{2})\s+\d+\s*$")
_ANPA_LEAD = re.compile(r"(\d+)(?:st|nd|rd|th)Ld", re.IGNORECASE)
_ANPA_TRAILER_YEAR = re.compile(r"AP-\w+-\d{2}-\d{2}-(\d{2})\b")
# Slugs AP reuses for unrelated items all day long: as a guid they would make every
# news alert replace the one before it.
_GENERIC_KEYWORDS = re.compile(r"APNewsAlert$", re.IGNORECASE)


def _anpa_identity(header: str, body: str) -> tuple[str | None, int, str]:
    """(guid, version, keyword) from the header slug line. The guid is keyword + filing
    date (+ year from the ETX trailer when it has one), shared by all write-thrus; a
    "Nth Ld" version is revision N+1 of the story."""
    line = next((_clean(entry) for entry in header.split("\n") if "BC-" in entry), "")
    match = _ANPA_SLUG.search(line)
    if not match:
        return None, 1, line.split()[0] if line else ""
    lead = _ANPA_LEAD.search(match["version"] or "")
    version = int(lead.group(1)) + 1 if lead else 1
    year = _ANPA_TRAILER_YEAR.search(body)
    guid = f"{match['keyword']} {match['date']}" + (f"-{year.group(1)}" if year else "")
    return (None if _GENERIC_KEYWORDS.search(match["keyword"]) else guid), version, match["keyword"]


def _is_caret(raw: str) -> bool:
    return raw.lstrip(STX).startswith("^")


def read_anpa1312_frame(frame: str):
    header, body, trailer = _framed_text(frame)
    guid, version, keyword = _anpa_identity(header, body + trailer)
    raw_lines = body.split("\n")
    headline, byline, paragraphs, current = "", [], [], []
    for index, raw in enumerate(raw_lines):
        line = _clean(raw.replace("\t", "    "))
        if _is_caret(raw):
            note = line.lstrip("^").rstrip("<=").strip()
            if note.startswith(("BC-", "AP Photo", "Eds:")) or not note:
                continue
            if note.startswith("By ") and not byline and not paragraphs and not current:
                byline.append(note)
                continue
            if not headline and not byline:
                headline = note
                continue
            following = next((r for r in raw_lines[index + 1:] if _clean(r)), "")
            if len(byline) == 1 and _is_caret(raw_lines[index - 1]) \
                    and _clean(raw_lines[index - 1]).lstrip("^").startswith("By ") and not _is_caret(following):
                byline.append(note)  # the by-line's second line, the writer's title, just above the text
                continue
            if not byline and not paragraphs and not current:
                continue  # a note between headline and by-line (editor's note, abstract)
            # Anything else is a heading inside the text (a table's "AMERICAN LEAGUE"): text, not by-line.
            if current:
                paragraphs.append(" ".join(current))
                current = []
            paragraphs.append(note)
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
    return build_story(
        source=(dateline[0].agency if dateline and dateline[0].agency else "AP"), guid=guid, version=version,
        headline=headline, body=text_body, fmt="anpa1312", dateline=dateline[0] if dateline else None,
        byline=", ".join(byline) or None, subjects=[keyword] if keyword else [],
    )


def parse_anpa1312(text: str) -> ParseResult:
    return _parse_framed("anpa1312", text, read_anpa1312_frame)
