"""What `make run` prints at the end: what landed in the `news` alias."""

from __future__ import annotations

import time

from elasticsearch import Elasticsearch

TOP_ENTITY_LABELS = ("PERSON", "ORG", "LOC")


def wait_searchable(es: Elasticsearch, alias: str, expected: int, timeout_s: float = 120) -> int:
    """Wait until the alias shows at least `expected` stories; returns the count seen."""
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        es.indices.refresh(index=alias)
        count = es.count(index=alias)["count"]
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


def wait_for_ids(es: Elasticsearch, alias: str, ids: set[str], timeout_s: float = 120) -> int:
    """Wait until every id is searchable through the alias; returns how many are."""
    deadline = time.monotonic() + timeout_s
    found = 0
    while True:
        es.indices.refresh(index=alias)
        found = es.count(index=alias, query={"ids": {"values": sorted(ids)}})["count"] if ids else 0
        if found >= len(ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def summary_lines(es: Elasticsearch, alias: str, query: str | None = None, top: int = 10) -> list[str]:
    es.indices.refresh(index=alias)
    response = es.search(
        index=alias,
        size=0,
        aggs={
            "languages": {"terms": {"field": "language", "size": 20}},
            # One terms aggregation per label over the flat entity names (decision 16).
            **{f"entity_{label}": {"terms": {"field": f"entity_names.{label}", "size": top}}
               for label in TOP_ENTITY_LABELS},
        },
    )
    total = response["hits"]["total"]["value"]
    lines = [f"stories searchable in '{alias}': {total}", "stories per language:"]
    for bucket in response["aggregations"]["languages"]["buckets"]:
        lines.append(f"  {bucket['key']:>5}  {bucket['doc_count']}")
    lines.append("top entities (PERSON/ORG/LOC):")
    top_entities = sorted(((bucket["doc_count"], bucket["key"], label) for label in TOP_ENTITY_LABELS
                           for bucket in response["aggregations"][f"entity_{label}"]["buckets"]),
                          key=lambda item: (-item[0], item[1]))[:top]
    for count, name, label in top_entities:
        lines.append(f"  {name} ({label}): in {count} {'story' if count == 1 else 'stories'}")
    query = query or (top_entities[0][1] if top_entities else None)
    if query:
        lines.append(f"search '{query}':")
        hits = es.search(index=alias, size=5, query={"multi_match": {"query": query, "fields": ["headline^2", "body", "lang.*"]}},
                         source=["headline", "body", "language", "source"])["hits"]["hits"]
        for hit in hits:
            src = hit["_source"]
            title = src.get("headline") or " ".join((src.get("body") or "").split())[:90] + "…"
            lines.append(f"  [{src.get('language')}] {title}  ({src.get('source')})")
        if not hits:
            lines.append("  (no hits)")
    return lines
