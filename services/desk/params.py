"""The parameters every desk view takes, from the page URL or /api/ alike.

One parser for pages and API, so a page's URL is a shareable link and the same
query string works against /api/search, /api/facets and /api/histogram.
Anything unknown, repeated where one value is expected, or out of range is a
ParamError naming the parameter and the limit (a 400), never a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from services.extract.nlp.normalize import canonical_key
from shared.contract import ENTITY_LABELS

MAX_SIZE = 100
DEFAULT_SIZE = 20
MAX_WINDOW = 10_000  # Elasticsearch's index.max_result_window: offset + size beyond it is refused
MAX_VALUES = 20  # values of one filter parameter
MAX_VALUE_CHARS = 200
SORTS = ("relevance", "newest")
INTERVALS = ("auto", "hour", "day", "week", "month")
SPLITS = ("", "lang")

MULTI = ("lang", "source", "format", "place", "entity")
SINGLE = ("q", "since", "until", "sort", "size", "offset", "split", "interval")
KNOWN = (*SINGLE, *MULTI)

_LANG = re.compile(r"[a-z]{2,3}")
_RELATIVE = re.compile(r"(\d{1,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ParamError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    lang: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    format: tuple[str, ...] = ()
    place: tuple[str, ...] = ()
    entity: tuple[tuple[str, str], ...] = ()  # (LABEL, canonical key)
    since: str = ""  # as given: ISO date/time or relative (24h, 7d); resolved by time_range()
    until: str = ""
    sort: str = "relevance"
    size: int = DEFAULT_SIZE
    offset: int = 0
    split: str = ""
    interval: str = "auto"
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc), compare=False)

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        return (parse_time("since", self.since, self.now) if self.since else None,
                parse_time("until", self.until, self.now) if self.until else None)

    def pairs(self) -> list[tuple[str, str]]:
        """The parameters that differ from the defaults, in a stable order (for links)."""
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        for name in ("lang", "source", "format", "place"):
            out += [(name, value) for value in getattr(self, name)]
        out += [("entity", f"{label}:{key}") for label, key in self.entity]
        defaults = SearchParams()
        for name in ("since", "until", "sort", "size", "offset", "split", "interval"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                out.append((name, str(value)))
        return out

    def url(self, **changes) -> str:
        """The query string of these parameters with some changed ('?...', or '?' when default)."""
        params = replace(self, **changes) if changes else self
        return "?" + urlencode(params.pairs())

    def toggle(self, name: str, value) -> str:
        """Link that adds a filter value, or removes it when present; back to the first page."""
        values = getattr(self, name)
        values = tuple(v for v in values if v != value) if value in values else (*values, value)
        return self.url(**{name: values, "offset": 0})


def parse_params(query: "Mapping[str, list[str]] | MultiDict") -> SearchParams:  # noqa: F821
    """Validate a multi-valued query string (aiohttp's request.query or a dict of lists)."""
    values = _as_lists(query)
    unknown = sorted(set(values) - set(KNOWN))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                                     f"{', '.join(unknown)}; known: {', '.join(KNOWN)}")
    single: dict[str, str] = {}
    for name in SINGLE:
        given = values.get(name, [])
        if len(given) > 1:
            raise ParamError(name, "given more than once")
        if given:
            single[name] = given[0].strip()
    multi = {name: _multi(name, values.get(name, [])) for name in MULTI}
    for name, items in multi.items():
        for item in items:
            if len(item) > MAX_VALUE_CHARS:
                raise ParamError(name, f"a value is {len(item)} characters long; at most {MAX_VALUE_CHARS}")
    langs = tuple(dict.fromkeys(value.lower() for value in multi["lang"]))
    for lang in langs:
        if not _LANG.fullmatch(lang):
            raise ParamError("lang", f"'{lang}' is not a language code (ISO 639: en, fr, und)")
    size = _integer("size", single.get("size"), DEFAULT_SIZE, 1, MAX_SIZE)
    offset = _integer("offset", single.get("offset"), 0, 0, MAX_WINDOW - size)
    sort = _choice("sort", single.get("sort"), SORTS)
    interval = _choice("interval", single.get("interval"), INTERVALS)
    split = _choice("split", single.get("split", ""), SPLITS)
    params = SearchParams(
        q=single.get("q", ""), lang=langs, source=multi["source"], format=multi["format"],
        place=multi["place"], entity=tuple(parse_entity(value) for value in multi["entity"]),
        since=single.get("since", ""), until=single.get("until", ""), sort=sort, size=size,
        offset=offset, split=split, interval=interval,
    )
    since, until = params.time_range()  # validates both
    if since and until and since >= until:
        raise ParamError("since", "must be earlier than until")
    return params


def parse_entity(value: str) -> tuple[str, str]:
    """'ORG:Nissan' -> ('ORG', 'nissan'): the label and the canonical key every story shares."""
    label, sep, name = value.partition(":")
    label = label.strip().upper()
    if not sep or not name.strip():
        raise ParamError("entity", f"'{value}' is not LABEL:NAME (e.g. ORG:Nissan, PERSON:Jun Seki)")
    if label not in ENTITY_LABELS:
        raise ParamError("entity", f"unknown label '{label}'; one of {', '.join(ENTITY_LABELS)}")
    return label, canonical_key(name)


def parse_time(name: str, value: str, now: datetime) -> datetime:
    """ISO date or date-time (UTC unless it says otherwise), or relative to now: 30m, 24h, 7d, 2w."""
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParamError(name, f"'{value}' is not a date (2024-05-01, 2024-05-01T12:00) "
                               "nor a time ago (30m, 24h, 7d, 2w)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if not 1900 <= parsed.year <= 2200:
        raise ParamError(name, f"year {parsed.year} is out of range (1900-2200)")
    return parsed


def _as_lists(query) -> dict[str, list[str]]:
    if hasattr(query, "getall"):  # aiohttp / multidict
        return {key: list(query.getall(key)) for key in set(query.keys())}
    return {key: list(value) if isinstance(value, (list, tuple)) else [value] for key, value in query.items()}


def _multi(name: str, given: list[str]) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(value.strip() for value in given if value.strip()))  # dedupe, keep order
    if len(items) > MAX_VALUES:
        raise ParamError(name, f"{len(items)} values; at most {MAX_VALUES}")
    return items


def _integer(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(name, f"'{raw}' is not a whole number") from None
    if not low <= value <= high:
        limit = f" (offset + size <= {MAX_WINDOW})" if name == "offset" else ""
        raise ParamError(name, f"{value} is out of range {low}..{high}{limit}")
    return value


def _choice(name: str, raw: str | None, choices: tuple[str, ...]) -> str:
    if not raw:
        return choices[0]
    if raw not in choices:
        shown = ", ".join(repr(c) if not c else c for c in choices)
        raise ParamError(name, f"'{raw}' is not one of {shown}")
    return raw
