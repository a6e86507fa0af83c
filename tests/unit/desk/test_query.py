"""The desk's query language -> Elasticsearch bool query (services/desk/query.py)."""

from __future__ import annotations

import json
import re

import pytest

from services.desk.query import DEFAULT_TEXT_FIELDS, QueryError, parse_query
from shared.contract import ENTITY_LABELS

FORBIDDEN = ("query_string", "simple_query_string", "script", "regexp", "wildcard", "fuzzy", "more_like_this",
             "percolate", "_source", "index")


def keys(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            found |= keys(value)
    elif isinstance(node, list):
        for value in node:
            found |= keys(value)
    return found


def test_words_are_all_required_across_the_text_fields_and_the_language_copies():
    query = parse_query("nissan renault")
    musts = query["bool"]["must"]
    assert [m["multi_match"]["query"] for m in musts] == ["nissan", "renault"]
    assert all(m["multi_match"]["fields"] == DEFAULT_TEXT_FIELDS for m in musts)
    assert "lang.*" in DEFAULT_TEXT_FIELDS  # per-language stemming


def test_phrase_or_not_and_groups():
    query = parse_query('"jun seki" OR (headline:renault -body:mitsubishi)')
    should = query["bool"]["should"]
    assert should[0]["multi_match"] == {"query": "jun seki", "fields": DEFAULT_TEXT_FIELDS, "type": "phrase"}
    group = should[1]["bool"]
    assert group["must"][0]["multi_match"]["fields"] == ["headline"]
    assert group["must_not"][0]["multi_match"]["fields"] == ["body"]


def test_keyword_and_entity_fields():
    query = parse_query("source:afp lang:FR place:tokyo org:Nissan person:\"Jun Seki\"")
    musts = query["bool"]["must"]
    assert musts[0] == {"term": {"source": {"value": "afp", "case_insensitive": True}}}
    assert musts[1] == {"term": {"language": {"value": "fr"}}}
    assert musts[2] == {"term": {"dateline.place": {"value": "tokyo", "case_insensitive": True}}}
    assert musts[3] == {"term": {"entity_keys.ORG": "nissan"}}
    assert musts[4] == {"term": {"entity_keys.PERSON": "jun seki"}}


def test_entity_names_fold_case_and_accents_like_the_extract_keys():
    query = parse_query("entity:ÉLYSÉE")["bool"]
    # entity: without a label is any label
    assert query["minimum_should_match"] == 1
    assert query["should"] == [{"term": {f"entity_keys.{label}": "elysee"}} for label in ENTITY_LABELS]


def test_trailing_wildcard_is_a_phrase_prefix():
    assert parse_query("nissa*")["multi_match"]["type"] == "phrase_prefix"


def test_empty_query_matches_everything():
    assert parse_query("   ") is None


@pytest.mark.parametrize("query, reason", [
    ("foo:bar", "unknown field 'foo'"),
    ("_index:news", "unknown field '_index'"),
    ("*issan", "wildcard works only at the end"),
    ("ni?san", "wildcard works only at the end"),
    ('"unclosed', "unclosed quote"),
    ("(a OR b", "unbalanced '('"),
    ("a)", "unbalanced ')'"),
    ("a AND", "AND needs something on its right"),
    ("OR a", "empty expression"),
    ("a OR", "OR needs something on its right"),
    ("headline:", "needs a value"),
    ("source:afp*", "exact value"),
    ("(" * 10 + "a" + ")" * 10, "nests deeper"),
    ("x" * 1001, "at most 1000"),
    (" ".join(["w"] * 65), "more than 64 terms"),
])
def test_what_the_grammar_cannot_read_is_refused_with_the_reason(query, reason):
    with pytest.raises(QueryError, match=re.escape(reason)):
        parse_query(query)


@pytest.mark.parametrize("hostile", [
    '{"script": {"source": "Runtime.exec()"}}',
    "/.*/ regexp:/x/",
    '_search?q=* _delete_by_query "match_all"',
    "<script>alert(1)</script> javascript:alert(1)",
    "body:(a OR b) headline:\"x\" -source:y",
    "\\u0000 \x00 ~2 ^5 [a TO b] {c TO d}",
])
def test_any_query_becomes_only_match_term_and_nested_clauses(hostile):
    try:
        query = parse_query(hostile)
    except QueryError:
        return  # refused is fine; what is accepted must be harmless
    assert not keys(query) & set(FORBIDDEN), json.dumps(query)
    assert keys(query) <= {"bool", "must", "must_not", "should", "minimum_should_match", "filter", "multi_match",
                           "query", "fields", "type", "operator", "term", "value", "case_insensitive", "nested",
                           "path", "match_all", "source", "language", "dateline.place", "format", "entities.key",
                           "entities.label"}
