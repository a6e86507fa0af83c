"""Every question the desk asks Elasticsearch, as `_search` requests on the alias.

The request bodies are built here from validated SearchParams (the user's query goes
through services.desk.query, never into query_string); StoryIndex sends them, and
`_search` on the configured alias is the only Elasticsearch endpoint it can call:
a story is fetched with an `ids` query (a GET by id would bypass the alias filter that
hides killed and embargoed stories), counts are `size: 0` searches.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from elasticsearch import ApiError, AsyncElasticsearch, ConnectionTimeout, TransportError

from services.desk.params import SearchParams
from services.desk.query import entity_filter, parse_query
from services.desk.titles import story_title
from services.extract.nlp.normalize import canonical_key

ENTITY_FACETS = ("PERSON", "ORG", "LOC")
NAME_CANDIDATES = 5  # names looked at per entity facet value to find the one written for its key
FACET_FIELDS = {"lang": "language", "source": "source", "format": "format", "place": "dateline.place"}
LIST_FIELDS = ["id", "headline", "body", "byline", "source", "language", "format", "dateline",
               "published_at", "received_at", "urgency", "link"]
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters: cannot be confused with HTML
SNIPPET_CHARS = 180
HISTOGRAM_MAX_BUCKETS = 1000
_INTERVAL_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 31 * 86400}


class SearchUnavailable(RuntimeError):
    """Elasticsearch did not answer (down, wrong URL, timeout)."""


class SearchRefused(ValueError):
    """Elasticsearch refused the request as invalid (a 400 it explains)."""


# ------------------------------------------------------------------- bodies --

def story_time_range(start: datetime | None, end: datetime | None) -> dict:
    """A story's time is published_at, or received_at when the wire gave none."""
    bounds = {}
    if start:
        bounds["gte"] = start.isoformat()
    if end:
        bounds["lt"] = end.isoformat()
    return {"bool": {"should": [
        {"range": {"published_at": bounds}},
        {"bool": {"must_not": [{"exists": {"field": "published_at"}}],
                  "filter": [{"range": {"received_at": bounds}}]}},
    ], "minimum_should_match": 1}}


def filters(params: SearchParams) -> list[dict]:
    out: list[dict] = []
    for name, field in FACET_FIELDS.items():
        values = getattr(params, name)
        if values:
            out.append({"terms": {field: list(values)}})
    for label, key in params.entity:  # every entity: stories naming all of them
        out.append(entity_filter(label, key))
    since, until = params.time_range()
    if since or until:
        out.append(story_time_range(since, until))
    return out


def base_query(params: SearchParams) -> dict:
    parsed = parse_query(params.q)
    return {"bool": {"must": [parsed or {"match_all": {}}], "filter": filters(params)}}


def search_body(params: SearchParams) -> dict:
    body = {
        "query": base_query(params),
        "from": params.offset,
        "size": params.size,
        "track_total_hits": True,
        "_source": LIST_FIELDS,
        "highlight": {
            "pre_tags": [MARK_OPEN], "post_tags": [MARK_CLOSE],
            "fields": {
                "headline": {"number_of_fragments": 0},
                "body": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 2, "no_match_size": SNIPPET_CHARS},
            },
        },
    }
    if params.sort == "newest":
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}},
                        {"received_at": {"order": "desc"}}, "_score"]
    return body


def facets_body(params: SearchParams) -> dict:
    return {"query": base_query(params), "size": 0, "track_total_hits": True, "aggs": facet_aggs()}


def facet_aggs(size: int = 12) -> dict:
    aggs: dict = {name: {"terms": {"field": field, "size": size}} for name, field in FACET_FIELDS.items()}
    for label in ENTITY_FACETS:
        # The names written under a key: the one whose key matches is the bucket's display name
        # (a story may name other entities of the label more often than this one).
        aggs[f"entity_{label}"] = {"terms": {"field": f"entity_keys.{label}", "size": size}, "aggs": {
            "name": {"terms": {"field": f"entity_names.{label}", "size": NAME_CANDIDATES}}}}
    return aggs


def _time_split(aggs: dict) -> dict:
    """The same sub-aggregations over published_at and, for stories without one, received_at."""
    return {
        "published": {"filter": {"exists": {"field": "published_at"}}, "aggs": aggs("published_at")},
        "received": {"filter": {"bool": {"must_not": [{"exists": {"field": "published_at"}}]}},
                     "aggs": aggs("received_at")},
    }


def bounds_body(params: SearchParams) -> dict:
    def first_last(field: str) -> dict:
        return {order: {"top_hits": {"size": 1, "sort": [{field: {"order": order}}], "_source": [field]}}
                for order in ("asc", "desc")}

    return {"query": base_query(params), "size": 0, "track_total_hits": True, "aggs": _time_split(first_last)}


def histogram_body(params: SearchParams, start: datetime, end: datetime, interval: str) -> dict:
    def histogram(field: str) -> dict:
        spec = {"date_histogram": {
            "field": field, "calendar_interval": interval, "min_doc_count": 0,
            "extended_bounds": {"min": int(start.timestamp() * 1000), "max": int(end.timestamp() * 1000)},
        }}
        if params.split == "lang":
            spec["aggs"] = {"lang": {"terms": {"field": "language", "size": 8}}}
        return {"histogram": spec}

    return {"query": base_query(params), "size": 0, "track_total_hits": True, "aggs": _time_split(histogram)}


def choose_interval(start: datetime, end: datetime) -> str:
    span = (end - start).total_seconds()
    if span <= 3 * 86400:
        return "hour"
    if span <= 120 * 86400:
        return "day"
    if span <= 3 * 365 * 86400:
        return "week"
    return "month"


def story_body(story_id: str) -> dict:
    return {"query": {"ids": {"values": [story_id]}}, "size": 1, "_source": {"excludes": ["lang"]}}


# ------------------------------------------------------------------ shaping --

def highlight_segments(fragment: str) -> list[list]:
    """'a \\ue000b\\ue001 c' -> [['a ', False], ['b', True], [' c', False]]: text, never HTML."""
    out: list[list] = []
    marked = False
    for part in fragment.replace(MARK_CLOSE, MARK_OPEN).split(MARK_OPEN):
        if part:
            out.append([part, marked])
        marked = not marked
    return out


def result(hit: dict) -> dict:
    source = hit.get("_source") or {}
    title = story_title(source.get("headline"), source.get("body"))
    highlight = hit.get("highlight") or {}
    dateline = source.get("dateline") or {}
    headline_marks = highlight.get("headline")
    return {
        "id": hit.get("_id"),
        "title": title.text,
        "title_derived": title.derived,
        "title_segments": highlight_segments(headline_marks[0]) if headline_marks and not title.derived
        else [[title.text, False]],
        "headline": source.get("headline") or "",
        "source": source.get("source"),
        "language": source.get("language"),
        "format": source.get("format"),
        "place": dateline.get("place"),
        "byline": source.get("byline"),
        "published_at": source.get("published_at"),
        "received_at": source.get("received_at"),
        "urgency": source.get("urgency"),
        "score": hit.get("_score"),
        "snippets": [highlight_segments(fragment) for fragment in highlight.get("body", [])],
    }


def facet_values(response: dict, params: SearchParams) -> dict:
    aggs = response.get("aggregations") or {}
    facets: dict[str, list[dict]] = {}
    for name in FACET_FIELDS:
        selected = getattr(params, name)
        values = [{"value": b["key"], "count": b["doc_count"], "selected": b["key"] in selected}
                  for b in aggs.get(name, {}).get("buckets", [])]
        shown = {v["value"] for v in values}
        values += [{"value": value, "count": 0, "selected": True} for value in selected if value not in shown]
        facets[name] = values
    for label in ENTITY_FACETS:
        values = []
        for bucket in aggs.get(f"entity_{label}", {}).get("buckets", []):
            values.append({
                "value": bucket["key"], "label": label, "name": display_name(bucket),
                "count": bucket["doc_count"], "selected": (label, bucket["key"]) in params.entity,
            })
        shown = {v["value"] for v in values}
        values += [{"value": key, "label": label, "name": key, "count": 0, "selected": True}
                   for entity_label, key in params.entity if entity_label == label and key not in shown]
        facets[label] = values
    return facets


def display_name(bucket: dict) -> str:
    """The most written name whose canonical key is the bucket's key; the key itself if none is."""
    for name in bucket.get("name", {}).get("buckets", []):
        if canonical_key(name["key"]) == bucket["key"]:
            return name["key"]
    return bucket["key"]


def _millis(value) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -------------------------------------------------------------------- index --

class StoryIndex:
    """The desk's only way to Elasticsearch: `_search` on one alias."""

    def __init__(self, es: AsyncElasticsearch, alias: str, url: str) -> None:
        self.es = es
        self.alias = alias
        self.url = url

    async def _search(self, body: dict) -> dict:
        try:
            response = await self.es.search(index=self.alias, body=body)
        except ApiError as exc:
            if exc.status == 404:  # no index behind the alias yet: nothing ingested so far
                return {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {}, "no_index": True}
            if exc.status == 400:
                raise SearchRefused(_reason(exc)) from exc
            raise SearchUnavailable(f"Elasticsearch at {self.url} answered {exc.status}: {_reason(exc)}") from exc
        except (ConnectionTimeout, asyncio.TimeoutError) as exc:
            raise SearchUnavailable(f"Elasticsearch at {self.url} did not answer in time "
                                    "(WIRESTREAM_DESK_SEARCH_TIMEOUT_S); it may be overloaded") from exc
        except (TransportError, OSError) as exc:
            raise SearchUnavailable(f"Elasticsearch is unreachable at {self.url} ({type(exc).__name__})") from exc
        return response.body if hasattr(response, "body") else response

    async def search(self, params: SearchParams) -> dict:
        response = await self._search(search_body(params))
        return {
            "total": _total(response),
            "offset": params.offset,
            "size": params.size,
            "sort": params.sort,
            "hits": [result(hit) for hit in response["hits"]["hits"]],
        }

    async def search_and_facets(self, params: SearchParams) -> tuple[dict, dict]:
        """The search page's results and facets from one request (half the work for the server)."""
        response = await self._search({**search_body(params), "aggs": facet_aggs()})
        results = {"total": _total(response), "offset": params.offset, "size": params.size, "sort": params.sort,
                   "hits": [result(hit) for hit in response["hits"]["hits"]]}
        return results, {"total": _total(response), "facets": facet_values(response, params)}

    async def facets(self, params: SearchParams) -> dict:
        response = await self._search(facets_body(params))
        return {"total": _total(response), "facets": facet_values(response, params)}

    async def histogram(self, params: SearchParams) -> dict:
        start, end = params.time_range()
        if start is None or end is None:
            bounds = await self._search(bounds_body(params))
            if not _total(bounds):
                return {"interval": None, "total": 0, "buckets": [], "languages": []}
            first, last = _first_last(bounds.get("aggregations") or {})
            start = start or first
            end = end or (last if params.until == "" and params.since == "" else params.now)
        end = max(end, start + timedelta(hours=1))
        interval = params.interval if params.interval != "auto" else choose_interval(start, end)
        buckets_wanted = (end - start).total_seconds() / _INTERVAL_SECONDS[interval]
        if buckets_wanted > HISTOGRAM_MAX_BUCKETS:
            raise SearchRefused(f"interval: {interval} over this range makes {int(buckets_wanted)} bars; "
                                f"at most {HISTOGRAM_MAX_BUCKETS} (choose a longer interval or a shorter range)")
        response = await self._search(histogram_body(params, start, end, interval))
        return _histogram(response, interval, start, end)

    async def story(self, story_id: str) -> dict | None:
        hits = (await self._search(story_body(story_id)))["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    async def count(self) -> dict:
        response = await self._search({"size": 0, "track_total_hits": True, "query": {"match_all": {}}})
        return {"stories": _total(response), "no_index": bool(response.get("no_index"))}

    async def indexed_per_minute(self, minutes: int = 60) -> list[dict]:
        now = datetime.now(timezone.utc)
        start = now - timedelta(minutes=minutes)
        body = {"size": 0, "query": {"range": {"indexed_at": {"gte": start.isoformat()}}}, "aggs": {
            "per_minute": {"date_histogram": {
                "field": "indexed_at", "fixed_interval": "1m", "min_doc_count": 0,
                "extended_bounds": {"min": int(start.timestamp() * 1000), "max": int(now.timestamp() * 1000)}}}}}
        response = await self._search(body)
        buckets = (response.get("aggregations") or {}).get("per_minute", {}).get("buckets", [])
        return [{"t": _millis(b["key"]).isoformat(), "count": b["doc_count"]} for b in buckets]


def _total(response: dict) -> int:
    total = response.get("hits", {}).get("total", 0)
    return total.get("value", 0) if isinstance(total, dict) else int(total)


def _reason(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error", {})
    if isinstance(error, dict):
        causes = error.get("root_cause") or [error]
        return str(causes[0].get("reason") or error.get("type") or exc.message)[:500]
    return str(error or exc.message)[:500]


def _first_last(aggs: dict) -> tuple[datetime, datetime]:
    times = []
    for name, field in (("published", "published_at"), ("received", "received_at")):
        for order in ("asc", "desc"):
            for hit in aggs.get(name, {}).get(order, {}).get("hits", {}).get("hits", []):
                value = _parse_iso((hit.get("_source") or {}).get(field))
                if value:
                    times.append(value)
    now = datetime.now(timezone.utc)
    return (min(times), max(times)) if times else (now - timedelta(days=1), now)


def _histogram(response: dict, interval: str, start: datetime, end: datetime) -> dict:
    aggs = response.get("aggregations") or {}
    counts: dict[int, int] = {}
    by_lang: dict[int, dict[str, int]] = {}
    for name in ("published", "received"):
        for bucket in aggs.get(name, {}).get("histogram", {}).get("buckets", []):
            key = bucket["key"]
            counts[key] = counts.get(key, 0) + bucket["doc_count"]
            for lang in bucket.get("lang", {}).get("buckets", []):
                per = by_lang.setdefault(key, {})
                per[lang["key"]] = per.get(lang["key"], 0) + lang["doc_count"]
    languages = sorted({lang for per in by_lang.values() for lang in per},
                       key=lambda lang: -sum(per.get(lang, 0) for per in by_lang.values()))
    buckets = []
    for key in sorted(counts):
        bucket = {"t": _millis(key).isoformat(), "count": counts[key]}
        if by_lang or languages:
            bucket["by_lang"] = by_lang.get(key, {})
        buckets.append(bucket)
    return {"interval": interval, "since": start.isoformat(), "until": end.isoformat(),
            "total": _total(response), "buckets": buckets, "languages": languages}
