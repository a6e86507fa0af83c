"""Wire datelines: the one parser both services use.

Ingest fills ``Story.dateline`` from it; extract uses the spans to keep the
dateline out of NER and to report its place(s) and agency itself. Keeping a
single grammar means the two services can never disagree about where a story
was filed.

A dateline opens a line and has this shape (every part optional except as
noted below)::

    [(AGENCY) -] PLACE[/PLACE] [, REGION | (REGION)] [,] [DATE] [(AGENCY) | AGENCY] SEPARATOR

    Tokyo (AFP) -                       CHATHAM, Mass. (AP) _ The town
    LONDON, March 3 -                   PARIS, 3 mars (Reuters) -
    NEW YORK, Feb 26 -                  MADRID, 21 Nov. 2024 (Europa Press) -
    Tel Aviv/Beirut (dpa) -             Boulogne-Billancourt (France) (AFP) -
    STOCKHOLM, Aug 29, 2014 (AFP) -     SEOUL, Nov 26 AFP -
    Tegucigalpa, Jan 2 (EFE).-          (ANSA) - Rome, October 11 -
    LONDON 1996-08-30                   MILWAUKEE , Wisconsin 1996-08-29  (CoNLL tokenised)

The separator (``-``, ``--``, ``_``, ``–``, ``—``, ``.-``, ``:``) must be
followed by a space or the end of the line; without one the dateline must be
the whole line. Place words must be capitalised (connectors such as "de",
"am", "upon" aside), so "Nissan shares - a sharp fall" and "The group (which
was) said" are sentences. Beyond that a candidate only counts when it says
something a sentence or a list item would not:

* a known agency ("(AFP)", "(dpa/lni)", "SEOUL, Nov 26 AFP -"); an unknown
  parenthesised name only before a separator and after a date ("Jan 30
  (Gracenote) -") or, in capitals, after a place in capitals;
* a date after a place (without a separator the place must be in capitals:
  "Don Rickles, July 2, 1974" is a list item), or a date as the whole line;
* a place in capitals, four letters at least, with a region or before a
  separator that opens a sentence ("OTTAWA - A Manitoba man"; not "SOCCER -
  JAPAN WIN", a headline, nor "LVMH - Moët Hennessy", nor "BREAKING: ...").

Text after the separator that starts with a number or a date makes a range
("February 3, 1919 - May 3, 1919"), not a dateline.

A labelled date stamp opening the text, ``date 2019-12 Renault, Nissan...``
(as in one of the seed stories: a metadata field fused to the first line),
is read as a dateline with only a date, so the date is kept and the label is
not handed to NER as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shared.contract import Dateline

__all__ = ["MONTHS", "ParsedDateline", "parse_dateline"]

# Month names and abbreviations in the languages the extract rules read; the
# date rules (services/extract/nlp/rules.py) use the same table.
MONTHS: dict[str, int] = {}
for _i, _names in enumerate([
    "january janvier januar jänner enero gennaio januari janeiro jan janv январь января",
    "february février fevrier februar febrero febbraio februari fevereiro feb févr fevr февраль февраля",
    "march mars märz maerz marzo maart março mar март марта",
    "april avril abril aprile apr avr апрель апреля",
    "may mai mayo maggio mei maio май мая",
    "june juin juni junio giugno junho jun июнь июня",
    "july juillet juli julio luglio julho jul juil июль июля",
    "august août aout agosto augustus aug август августа",
    "september septembre settembre septiembre setembro sept sep сентябрь сентября",
    "october octobre oktober octubre ottobre oktober outubro oct okt октябрь октября",
    "november novembre noviembre november novembro nov ноябрь ноября",
    "december décembre decembre dezember diciembre dicembre december dezembro dec déc dez dic декабрь декабря",
], start=1):
    for _n in _names.split():
        MONTHS[_n] = _i

KNOWN_AGENCIES = frozenset({
    "afp", "ap", "reuters", "dpa", "efe", "ansa", "aap", "pa", "pa media", "ntb", "tt", "stt", "upi",
    "ana-mpa", "anp", "belga", "apa", "sda", "ats", "kyodo", "jiji", "xinhua", "tass", "bloomberg",
    "europa press", "lusa", "yonhap", "kna", "epd", "interfax", "ria novosti", "anadolu", "bernama",
    "pti", "ians", "notimex", "prensa latina", "cp", "agerpres", "ctk", "mti", "pap", "hina", "irna",
})

# The first-letter lookahead lets the regex skip the long alternation at most words.
_MONTH_INITIALS = "".join(sorted({m[0] for m in MONTHS} | {m[0].upper() for m in MONTHS}))
_MONTH_NAME = (f"(?=[{_MONTH_INITIALS}])(?i:"
               + "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True)) + ")")
_MONTH = _MONTH_NAME + r"\.?"
# A place word: letters, inner hyphens/apostrophes/dots ("Boulogne-Billancourt",
# "N'Djamena", "U.S."), an optional closing dot ("St.", "Mass."). Whether it is
# capitalised is checked in code: Python's re has no class for upper case.
# Atomic, so that a failed match never retries a word cut short ("grou" of
# "group"): that backtracking made ordinary sentences twenty times slower to reject.
_WORD = r"(?>[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?)"
_PLACE = rf"{_WORD}(?:[ ]{_WORD}){{0,4}}(?:[ ]?/[ ]?{_WORD}(?:[ ]{_WORD}){{0,4}})*"
_REGION = rf"{_WORD}(?:[ ]{_WORD}){{0,2}}"
_DATE = (
    r"\d{4}-\d{2}-\d{2}"
    rf"|{_MONTH}[ ]{{1,2}}\d{{1,2}}(?:st|nd|rd|th)?(?:[ ]?,?[ ]\d{{4}})?"
    rf"|\d{{1,2}}(?:er|\.)?[ ]{_MONTH}(?:[ ]\d{{4}})?"
    # a misspelt month ("Marc 3", "Narch 2" in Reuters-21578): only after a place in capitals
    r"|(?P<loose>[A-Z][a-z]{2,8}\.?[ ]\d{1,2})"
)
_AGENCY = r"[^\W\d_][\w&.'’/\- ]{0,30}?"
# Agencies written without parentheses ("SEOUL, Nov 26 AFP -") must be known ones.
_BARE_AGENCY = "(?=[A-Za-z]{2})(?:" + "|".join(sorted({a.upper() for a in KNOWN_AGENCIES if a.isalpha()} | {"Reuters", "dpa"}, key=len, reverse=True)) + ")"
_SEP = r"(?:[-–—_]{1,2}|\.-|:)(?=\s|$)"

_DATELINE = re.compile(
    rf"""(?:(?P<place>{_PLACE})
           (?:\s*,\s*(?P<region>{_REGION})(?=\s*[,(]|\s+\d|\s+{_MONTH}|\s*{_SEP}|\s*$)
             |\s*\(\s*(?P<region2>{_REGION})\s*\)(?=\s*\())?      # Boulogne-Billancourt (France) (AFP)
           \s*,?\s*)?
        (?P<date>{_DATE})?
        (?:\s*\(\s*(?P<agency>{_AGENCY})\s*\)|\s+(?P<agency2>{_BARE_AGENCY}))?
        \s*(?:(?P<sep>{_SEP})|$)""",
    re.VERBOSE,
)
# Agency first, as ANSA's English service writes it: "(ANSA) - Rome, October 11 - ..."
_AGENCY_FIRST = re.compile(rf"\(\s*(?P<agency>{_AGENCY})\s*\)\s*{_SEP}\s*")
# A labelled date stamp fused to the first line: "date 2019-12 Renault, ..."
_STAMP = re.compile(r"(?i:date)\s*:?\s*(?P<date>\d{4}-\d{2}(?:-\d{2})?)(?![\d-])\s*")
_DATE_PARTS = re.compile(
    r"(?P<iy>\d{4})-(?P<im>\d{2})(?:-(?P<id>\d{2}))?$"
    rf"|(?P<m1>{_MONTH_NAME})\.?[ ]+(?P<d1>\d{{1,2}})\D*?(?P<y1>\d{{4}})?$"
    rf"|(?P<d2>\d{{1,2}})\D*?(?P<m2>{_MONTH_NAME})\.?(?:[ ](?P<y2>\d{{4}}))?$"
)
_WORD_SPLIT = re.compile(r"[ /]+")
_PLACE_PART = re.compile(r"[^/ ][^/]*[^/ ]|[^/ ]")  # "Tel Aviv" and "Beirut" of "Tel Aviv/Beirut"
_SPACE_COMMA = re.compile(r"\s+,")
# Lower-case words allowed inside a place name ("Frankfurt am Main", "Rio de Janeiro").
_CONNECTORS = frozenset(
    "de del della di da do dos das du des la le les el al am an im upon on of sur sobre aan van der den bei".split()
)
# After the separator: a second date or a number means a range ("1919 - May 3, 1919").
_RANGE_START = re.compile(rf"\d|(?:{_DATE})(?!\w)")
# A sentence: a lower-case word among the first six ("A Manitoba man is ...").
_SENTENCE_START = re.compile(r"[^\W\d_]\S*(?:\s+\S+){0,4}?\s+[^\W\d_A-ZÀ-Þ]")
_BYLINE_WORDS = frozenset({"By", "BY", "Par", "PAR", "Von", "VON", "Por", "POR"})
# Editorial kickers that look like a capitalised place before a separator.
_KICKERS = frozenset(
    "BREAKING UPDATE UPDATED EXCLUSIVE URGENT FLASH ALERT ANALYSIS WATCH CORRECTION CORRECTED FACTBOX "
    "EDITORIAL OPINION COMMENT PHOTOS VIDEO ADVISORY REFILE RPT WRAPUP INTERVIEW COLUMN FEATURE PREVIEW "
    "REVIEW LIVE FOCUS INSIGHT".split()
)


@dataclass(slots=True)  # not frozen: frozen instances cost four times as much to build
class ParsedDateline:
    """A dateline found at the start of a line; spans are offsets into the text
    the caller passed (shifted by ``offset``)."""

    text: str  # as written, separator included
    start: int
    end: int  # where the story text after the dateline begins
    place: str | None = None  # "CHATHAM", "Tel Aviv/Beirut"
    region: str | None = None  # "Mass.", "France"
    agency: str | None = None
    date: str | None = None  # as written: "March 3", "1996-08-30", "2019-12"
    full_place: str | None = None  # place with its region as written: "CHATHAM, Mass."
    place_spans: tuple[tuple[int, int], ...] = ()  # one per place: "Tel Aviv", "Beirut"
    region_span: tuple[int, int] | None = None
    agency_span: tuple[int, int] | None = None
    date_span: tuple[int, int] | None = None

    @property
    def place_span(self) -> tuple[int, int] | None:
        return (self.place_spans[0][0], self.place_spans[-1][1]) if self.place_spans else None

    def date_parts(self) -> tuple[int | None, int | None, int | None]:
        """(year, month, day) of the date, each None when not written."""
        return date_parts(self.date)

    def to_contract(self) -> Dateline:
        return Dateline(text=self.text, place=self.full_place, agency=self.agency, date=self.date)


def date_parts(text: str | None) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of a dateline date as written; Nones for what is missing."""
    m = _DATE_PARTS.match(text.strip()) if text else None
    if not m:
        return None, None, None
    if m["iy"]:
        return int(m["iy"]), int(m["im"]), int(m["id"]) if m["id"] else None
    year = m["y1"] or m["y2"]
    return int(year) if year else None, MONTHS[(m["m1"] or m["m2"]).lower()], int(m["d1"] or m["d2"])


def _known_agency(name: str) -> bool:
    n = " ".join(name.split()).lower()
    return n in KNOWN_AGENCIES or any(p in KNOWN_AGENCIES for p in n.split("/"))  # "dpa/lni", "tca/dpa"


def _capitalised(words: str) -> bool:
    parts = [w for w in _WORD_SPLIT.split(words) if w]
    return bool(parts) and parts[0][0].isupper() and all(w[0].isupper() or w in _CONNECTORS for w in parts)


def _in_capitals(text: str) -> bool:
    letters = "".join(filter(str.isalpha, text))
    return len(letters) > 1 and letters.isupper()


def _span(m: re.Match, group: str, offset: int) -> tuple[int, int] | None:
    if not m[group]:
        return None
    return offset + m.start(group), offset + m.start(group) + len(m[group].rstrip())


def parse_dateline(line: str, offset: int = 0) -> ParsedDateline | None:
    """The dateline opening ``line``, or None; spans are offset by ``offset``."""
    stamp = _STAMP.match(line)
    if stamp:
        return ParsedDateline(
            text=line[: stamp.end()].rstrip(), start=offset, end=offset + stamp.end(), date=stamp["date"],
            date_span=_span(stamp, "date", offset),
        )
    first = _AGENCY_FIRST.match(line)
    if first:
        if not _known_agency(first["agency"]):
            return None
        # "(ANSA) - Rome, October 11 - ...": the place and date may follow.
        rest = _parse(line[first.end():], offset + first.end(), line[: first.end()])
        agency = first["agency"].strip()
        if rest is None:
            return ParsedDateline(text=line[: first.end()].strip(), start=offset, end=offset + first.end(),
                                  agency=agency, agency_span=_span(first, "agency", offset))
        if rest.agency is None:
            return replace(rest, agency=agency, agency_span=_span(first, "agency", offset))
        return rest
    return _parse(line, offset)


def _parse(line: str, offset: int, before: str = "") -> ParsedDateline | None:
    m = _DATELINE.match(line)
    if not m or m.end() == 0:
        return None
    place, region = m["place"], m["region"] or m["region2"]
    agency_group = "agency" if m["agency"] else "agency2" if m["agency2"] else None
    agency = m[agency_group].strip() if agency_group else None
    date = m["date"]
    rest = line[m.end():]
    if place and not _capitalised(place) or region and not _capitalised(region):
        return None
    if place and place.split(None, 1)[0] in _BYLINE_WORDS:
        return None  # "By Arpan Varghese Jan 30 (Reuters) -": a byline, not a place
    caps_place = bool(place) and _in_capitals(place)
    after = rest.strip()
    if m["loose"] and not (caps_place and m["sep"]):
        return None
    if m["sep"] and _RANGE_START.match(after):
        return None  # "Lewis Nixon, February 3, 1919 - May 3, 1919": a date range
    if agency and not _known_agency(agency):
        # An unknown name in parentheses is an agency only where a sentence or a
        # list item would not put one: before a separator, and after a date ("Jan
        # 30 (Gracenote) -") or, if it is a short name in capitals, after a place
        # in capitals ("PHOENIX (KTAR) -"). "Keith Osborne (RW)", "Islamitische
        # Jihad (PIJ) - Palestijns", "Shares of Nissan (NSANY) - ..." stay text.
        short_caps = agency.isupper() and agency.isalpha() and 2 <= len(agency) <= 8
        dated = date and not m["loose"]
        if not (m["sep"] and agency[0].isupper() and (dated or caps_place and short_caps)):
            return None
    if agency or before:
        pass
    elif date:
        # "July 8 - Egyptian ambassador killed" is a chronology entry: a date alone
        # is a dateline only as the whole line ("MARCH 04, 2013"), and a place and
        # date without a separator ("LONDON 1996-08-30") need the place in capitals
        # ("Don Rickles, July 2, 1974" is a list item).
        if not place and rest.strip() or place and not m["sep"] and not caps_place:
            return None
    else:
        # A bare place needs capitals, four letters at least ("SPD - 7 Sitze" is a
        # list), and a region ("KANSAS CITY, Mo.") or a separator opening a
        # sentence ("OTTAWA - A Manitoba man"): "SOCCER - JAPAN WIN" is a
        # headline, "LVMH - Moët Hennessy Louis Vuitton" a name, "BREAKING: ..." a kicker.
        if not caps_place or sum(c.isalpha() for c in place) < 4 or place.strip() in _KICKERS:
            return None
        if not region and not (m["sep"] and (not after or _SENTENCE_START.match(after))):
            return None
    if not (place or date or agency):
        return None

    end = m.end() + len(rest) - len(rest.lstrip(" \t"))
    place_spans: list[tuple[int, int]] = []
    if place:
        base = m.start("place")
        for part in _PLACE_PART.finditer(place):
            place_spans.append((offset + base + part.start(), offset + base + part.end()))
    full_place = None
    if place:
        stop = m.end("region") if m["region"] else line.index(")", m.end("region2")) + 1 if m["region2"] else m.end("place")
        full_place = _SPACE_COMMA.sub(",", line[m.start("place"):stop].strip())  # CoNLL's "MILWAUKEE , Wisconsin"
    return ParsedDateline(
        text=(before + line[: m.end()]).strip(),
        start=offset - len(before),
        end=offset + end,
        place=place.strip() if place else None,
        region=region.strip() if region else None,
        agency=agency,
        date=date,
        full_place=full_place,
        place_spans=tuple(place_spans),
        region_span=_span(m, "region" if m["region"] else "region2", offset),
        agency_span=_span(m, agency_group, offset) if agency_group else None,
        date_span=_span(m, "date", offset),
    )
