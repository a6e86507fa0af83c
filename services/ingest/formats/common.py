"""Helpers every wire parser shares: markup to text, dates, versions, story building."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import lxml.html
from dateutil import parser as dateparser
from pydantic import ValidationError

from shared.contract import LINK_MAX_CHARS, Dateline, Story, is_web_url, story_id
from services.ingest.formats.errors import InputError
from services.ingest.formats.plaintext import parse_dateline

_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "section", "article",
               "header", "footer", "table", "tr", "ul", "ol", "hl1", "hl2", "dateline", "block", "body.content",
               "figcaption", "dd", "dt"}


def html_to_text(markup: str | None) -> str:
    """Markup -> plain text with paragraphs separated by one blank line."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup:
        return normalise_paragraphs(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return normalise_paragraphs(re.sub(r"<[^>]+>", " ", markup))
    for element in root.iter(lxml.etree.Element):
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if tag in ("script", "style"):
            element.drop_tree()
        elif tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif tag in _BLOCK_TAGS:
            element.tail = "\n\n" + (element.tail or "")
            element.text = "\n\n" + (element.text or "")
    return normalise_paragraphs(root.text_content())


# "PLACE[, DATE] (AGENCY) -": how a field that is known to hold the dateline is split when
# the stricter parser for datelines in running text does not recognise it.
_DATELINE_FIELD = re.compile(r"^(?P<place>[^,(]+?)\s*(?:,\s*(?P<date>[^(]*?))?\s*(?:\((?P<agency>[^)]*)\))?\s*[-–—_:]*$")


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2})?")


def dateline_field(text: str | None, located: str | None = None) -> Dateline | None:
    """The dateline from a field the wire marks as the dateline (NewsML-G2 <dateline>,
    digitalwires `dateline`, NewsML 1.2 <DateLine>), with `located` as the place it lacks.

    Such a field is the dateline even when the running-text parser, which must not take
    an ordinary sentence for a dateline, does not recognise it ("Tel Aviv/Beirut (dpa) -",
    "MADRID, 21 Nov. 2024 (Europa Press) -"): then it is split at its punctuation, and
    kept as it stood either way.
    """
    text = " ".join((text or "").split())
    if not text:
        return Dateline(text="", place=located) if located else None
    if _TIMESTAMP.match(text):
        # Reuters fills <dateline> with the filing time ("2014-07-16 15:53:10 GMT+00:00"): a date, no place.
        return Dateline(text=text, place=located, date=text)
    parsed = parse_dateline(text)
    if parsed is not None and not parsed[1]:
        found = parsed[0]
    else:
        match = _DATELINE_FIELD.match(text)
        if match and re.search(r"[^\W\d_]", match["place"]):  # a place has letters ("4/4/2018" is no place)
            place, date = match["place"], match["date"] or None
            if date and not re.search(r"\d", date):  # "Newport News, VA": a region, not a date
                place, date = f"{place}, {date}", None
            found = Dateline(text=text, place=place, date=date, agency=(match["agency"] or "").strip() or None)
        else:
            found = Dateline(text=text)
    return found if found.place or not located else found.model_copy(update={"place": located})


def normalise_paragraphs(text: str) -> str:
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text.replace("\r", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


# RFC 822 dates in feeds use US zone names that dateutil does not know on its own.
_ZONES = {name: hours * 3600 for name, hours in {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1, "JST": 9, "AEST": 10, "AEDT": 11}.items()}
# Month and weekday names of the languages feeds most often use besides English.
_LOCAL_MONTHS = {
    "gen": "jan", "mag": "may", "giu": "jun", "lug": "jul", "ago": "aug", "set": "sep", "ott": "oct", "dic": "dec",
    "janv": "jan", "févr": "feb", "fevr": "feb", "avr": "apr", "mai": "may", "juin": "jun", "juil": "jul",
    "août": "aug", "aout": "aug", "sept": "sep", "déc": "dec", "mär": "mar", "mrz": "mar", "okt": "oct",
    "dez": "dec", "ene": "jan", "abr": "apr",
}


def _anglicise(value: str) -> str:
    value = re.sub(r"^\s*[^\W\d]{2,9}\.?,\s*", "", value)  # drop a leading weekday name: "mer, 16 nov ..."
    return re.sub(r"(?<![^\W\d])([^\W\d]{3,5})\.?(?![^\W\d])",
                  lambda m: _LOCAL_MONTHS.get(m.group(1).lower(), m.group(1)), value)


def parse_datetime(value: object) -> datetime | None:
    """Any common wire date string -> aware UTC datetime; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = dateparser.parse(text, tzinfos=_ZONES)
        except (ValueError, OverflowError, TypeError):
            try:
                parsed = dateparser.parse(_anglicise(text), tzinfos=_ZONES)
            except (ValueError, OverflowError, TypeError):
                return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


_PUB_STATUSES = {"usable": "usable", "withheld": "withheld", "canceled": "canceled", "cancelled": "canceled"}


def pub_status_of(value: object) -> str:
    """The envelope's pub_status from a wire's status word or qcode ("Canceled",
    "cancelled", "stat:withheld"); anything else, or nothing, is usable."""
    word = str(value or "usable").strip().lower().removeprefix("stat:")
    return _PUB_STATUSES.get(word, "usable")


# A kill or withhold notice often carries no text at all: its job is to hide the
# version already indexed under the same guid (a tombstone the alias filters out).
TOMBSTONE_STATUSES = frozenset({"canceled", "withheld"})


def require_text(headline: str, body: str, pub_status: str, guid: str | None, reason: str) -> None:
    """A story needs a headline or body, except a kill/withhold notice that names its
    guid; without a guid it could not hide anything, so it is refused like any empty item."""
    if (headline or "").strip() or (body or "").strip():
        return
    if pub_status in TOMBSTONE_STATUSES and guid:
        return
    raise InputError(reason)


def integer_field(value: object, name: str) -> int:
    """A field that holds a non-negative integer: a JSON number or numeric text ("3"), as
    XML attributes and some JSON senders give it; anything else is an InputError naming it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\+?\d+\s*", value):
        number = int(value)
    else:
        shown = f"'{value[:40]}'" if isinstance(value, str) else json_type(value)  # never echo a whole document
        raise InputError(f"invalid field '{name}': expected an integer, got {shown}")
    if number < 0:
        raise InputError(f"invalid field '{name}': expected a non-negative integer, got {number}")
    return number


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def version_from(value: object, updated: datetime | None = None, field: str = "version") -> int:
    """The wire's version number, else the update time as YYYYMMDDHHMMSS (later = higher), else 1.

    A version that is present but not an integer ("abc", "1.5") is refused naming the
    field: replacing it with the update time or 1 would rank a correction against the
    story it corrects by a number the wire never sent."""
    if not _absent(value):
        return integer_field(value, field)
    if updated is not None:
        return int(updated.strftime("%Y%m%d%H%M%S"))
    return 1


def urgency_from(value: object, field: str = "urgency") -> int | None:
    """IPTC urgency as a number or numeric text ("3"); None when absent."""
    return None if _absent(value) else integer_field(value, field)


def language_tag(value: object) -> str | None:
    """'en-GB' -> 'en', 'nb-NO' -> 'nb'."""
    if not value or not isinstance(value, str):
        return None
    return value.strip().split("-")[0].split("_")[0].lower() or None


def web_link(value: object) -> str | None:
    """A wire's link to the story's web page when it is one a reader can open; otherwise
    None: a relative or javascript: link is dropped, the story is not refused for it."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if is_web_url(value) and len(value) <= LINK_MAX_CHARS else None


HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml", "application/xhtml+html")


def is_html_media_type(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(HTML_MEDIA_TYPES)


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number"}


def json_type(value: object) -> str:
    """How a JSON sender would name the type it sent."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def text_field(obj: dict, name: str) -> str:
    """A JSON field that holds text: '' when absent or null, an InputError naming it when it is not text."""
    value = obj.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"invalid field '{name}': expected a string, got {json_type(value)}")
    return value


def string_list(obj: dict, name: str) -> list[str]:
    """A JSON field that holds a list of strings ([] when absent or null)."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise InputError(f"invalid field '{name}': expected an array of strings, got {json_type(value)}")
    return value


def object_list(obj: dict, name: str) -> list:
    """A JSON field that holds a list (of objects, usually; [] when absent or null)."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"invalid field '{name}': expected an array, got {json_type(value)}")
    return value


def build_story(*, source: str | None, guid: str | None, headline: str, body: str, fmt: str,
                dateline: Dateline | None = None, **fields) -> Story:
    # Parsers check the fields they read; this is the backstop for what reaches the
    # envelope, so a wrong type is a reason naming the field, never a crash.
    for name, value in (("source", source), ("guid", guid), ("headline", headline), ("body", body)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"invalid {name}: expected a string, got {json_type(value)}")
    source = (source or "unknown").strip() or "unknown"
    headline = " ".join((headline or "").split())
    try:
        return Story(
            id=story_id(source, guid, headline, body),
            guid=guid,
            source=source,
            format=fmt,
            headline=headline,
            body=body or "",
            dateline=dateline,
            **{key: value for key, value in fields.items() if value is not None},
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "story"
        raise InputError(f"invalid {where}: {first.get('msg')}") from exc
