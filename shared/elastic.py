"""Elasticsearch plumbing: the client, the index template, the `news` alias.

Stories live in index generations (`news-000001`, ...; shared/generations.py)
created from the `news` index template; people and Kibana search the read alias
`news`, which covers every generation. The alias carries a filter on each, so
what it shows is exactly what may be shown now:

- killed or withheld stories (pub_status != usable) stay in the index as
  tombstones, so a late, older version cannot bring them back, but are hidden;
- embargoed stories are hidden until `embargo_until` passes. The filter uses
  `now`, evaluated at search time, so a story appears on time without anyone
  re-sending it.

See docs/decisions/0005-search-visibility-by-alias-filter.md.
"""

from __future__ import annotations

import json
import logging
import time

from elasticsearch import ApiError, Elasticsearch, TransportError

from shared.connection_security import elasticsearch_kwargs
from shared.contract import ENTITY_LABELS
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

# ISO 639-1 -> Elasticsearch's built-in language analyzer. A story in one of
# these languages is also indexed under lang.<code> with stemming and stop
# words; every story is searchable through the language-neutral fields.
LANGUAGE_ANALYZERS = {
    "ar": "arabic", "bg": "bulgarian", "ca": "catalan", "cs": "czech", "da": "danish",
    "de": "german", "el": "greek", "en": "english", "es": "spanish", "fa": "persian",
    "fi": "finnish", "fr": "french", "hi": "hindi", "hu": "hungarian", "id": "indonesian",
    "it": "italian", "ja": "cjk", "ko": "cjk", "nb": "norwegian", "nl": "dutch",
    "no": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
    "th": "thai", "tr": "turkish", "zh": "cjk",
}

VISIBLE_NOW = {
    "bool": {
        "filter": [{"term": {"pub_status": "usable"}}],
        "must_not": [{"range": {"embargo_until": {"gt": "now"}}}],
    }
}


def _keyword() -> dict:
    return {"type": "keyword", "ignore_above": 1024}


def story_mappings() -> dict:
    text_with_keyword = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}
    return {
        # New envelope fields land in _source without breaking indexing.
        "dynamic": False,
        "_source": {"excludes": ["lang.*"]},
        "properties": {
            "id": {"type": "keyword"},
            "guid": _keyword(),
            "version": {"type": "long"},
            "source": _keyword(),
            "format": {"type": "keyword"},
            "headline": text_with_keyword,
            "body": {"type": "text"},
            "byline": text_with_keyword,
            # The story's web page: matched and aggregated as one value, never analysed.
            "link": {"type": "keyword", "ignore_above": 2048},
            "dateline": {
                "properties": {
                    "text": {"type": "text"},
                    "place": _keyword(),
                    "agency": _keyword(),
                    "date": _keyword(),
                }
            },
            "pub_status": {"type": "keyword"},
            "urgency": {"type": "integer"},
            "subjects": _keyword(),
            "declared_language": {"type": "keyword"},
            "embargo_until": {"type": "date"},
            "published_at": {"type": "date"},
            "updated_at": {"type": "date"},
            "received_at": {"type": "date"},
            "indexed_at": {"type": "date"},
            "language": {"type": "keyword"},
            "language_confidence": {"type": "float"},
            "ner_model": {"type": "keyword"},
            "entities_truncated": {"type": "boolean"},
            # Entities are indexed flat, one keyword field per label: `entity_keys.ORG` holds the
            # case- and accent-folded keys, `entity_names.ORG` the names as written. The whole
            # list with offsets travels in `entity_list`, a JSON string that is kept in _source
            # but not mapped (so not indexed). Nested objects cost noida-db about 40 KB of memory
            # per story and real Elasticsearch a hidden document per entity, and Kibana's Lens
            # cannot aggregate them; see docs/decisions/0016-flat-entity-fields.md.
            "entity_keys": {"properties": {label: _keyword() for label in ENTITY_LABELS}},
            "entity_names": {"properties": {label: _keyword() for label in ENTITY_LABELS}},
            "lang": {
                "properties": {
                    code: {"type": "text", "analyzer": analyzer}
                    for code, analyzer in sorted(LANGUAGE_ANALYZERS.items())
                }
            },
        },
    }


def stored_entities(source: dict) -> list[dict]:
    """The entity list of a stored story document: `entity_list` (a JSON string), or the
    nested `entities` objects of a generation indexed before decision 16. Offsets come
    back flat ([start, end, start, end, ...]) as they are stored; [] when unreadable."""
    encoded = source.get("entity_list")
    if isinstance(encoded, str):
        try:
            entities = json.loads(encoded)
        except ValueError:
            log.warning("story %s: entity_list is not JSON; shown without entities", source.get("id"))
            return []
        return [e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []
    legacy = source.get("entities")
    return [e for e in legacy if isinstance(e, dict)] if isinstance(legacy, list) else []


def make_client(settings: CommonSettings, retries: bool = True) -> Elasticsearch:
    """`retries=False` for a caller that retries on its own schedule (the index runner)."""
    if not retries:
        return Elasticsearch(settings.elasticsearch_url, request_timeout=30, retry_on_timeout=False, max_retries=0,
                             **elasticsearch_kwargs(settings))
    return Elasticsearch(settings.elasticsearch_url, request_timeout=30, retry_on_timeout=True, max_retries=3,
                         **elasticsearch_kwargs(settings))


def wait_for_elasticsearch(es: Elasticsearch, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            es.info()
            return
        except (TransportError, ApiError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Elasticsearch not reachable: {exc}") from exc
            time.sleep(0.5)


def ensure_index(es: Elasticsearch, index_name: str, alias: str, settings=None) -> str:
    """Template, generations and aliases; safe to call from every replica at start.
    Returns the write index. `settings` (IndexSettings) carries the write alias,
    replicas and rollover settings; without it they are the defaults.
    See shared/generations.py."""
    from shared.generations import ensure_generations
    from shared.settings import IndexSettings

    if settings is None:
        settings = IndexSettings(index_name=index_name, index_alias=alias)
    return ensure_generations(es, settings)
