"""The parameters of every desk view (services/desk/params.py): validated, 400 with the name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.desk.params import MAX_WINDOW, ParamError, SearchParams, parse_params


def test_defaults_and_values():
    params = parse_params({"q": ["nissan"], "lang": ["FR", "en", "fr"], "entity": ["org:Nissan", "PERSON:Jun Séki"],
                           "size": ["50"], "offset": ["100"], "sort": ["newest"]})
    assert params.q == "nissan"
    assert params.lang == ("fr", "en")  # lower-cased; the repeated value is kept once
    assert params.entity == (("ORG", "nissan"), ("PERSON", "jun seki"))
    assert (params.size, params.offset, params.sort) == (50, 100, "newest")
    assert parse_params({}) == SearchParams()


@pytest.mark.parametrize("query, name, words", [
    ({"foo": ["1"]}, "foo", "unknown parameter"),
    ({"index": ["other"], "q": ["x"]}, "index", "unknown parameter"),
    ({"size": ["0"]}, "size", "out of range 1..100"),
    ({"size": ["101"]}, "size", "out of range 1..100"),
    ({"size": ["ten"]}, "size", "not a whole number"),
    ({"offset": ["-1"]}, "offset", "out of range"),
    ({"offset": [str(MAX_WINDOW)]}, "offset", "offset + size <= 10000"),
    ({"q": ["a", "b"]}, "q", "more than once"),
    ({"sort": ["oldest"]}, "sort", "not one of"),
    ({"interval": ["second"]}, "interval", "not one of"),
    ({"split": ["source"]}, "split", "not one of"),
    ({"lang": ["english"]}, "lang", "not a language code"),
    ({"entity": ["Nissan"]}, "entity", "LABEL:NAME"),
    ({"entity": ["BOSS:Nissan"]}, "entity", "unknown label"),
    ({"since": ["yesterday"]}, "since", "not a date"),
    ({"since": ["0001-01-01"]}, "since", "out of range"),
    ({"since": ["2024-02-01"], "until": ["2024-01-01"]}, "since", "earlier than until"),
    ({"source": ["x" * 201]}, "source", "at most 200"),
    ({"source": [f"s{i}" for i in range(21)]}, "source", "at most 20"),
])
def test_bad_parameters_name_the_parameter_and_the_limit(query, name, words):
    with pytest.raises(ParamError) as raised:
        parse_params(query)
    assert raised.value.name == name
    assert words in str(raised.value)


def test_relative_and_absolute_times():
    now = datetime(2024, 5, 10, 12, tzinfo=timezone.utc)
    params = SearchParams(since="7d", until="2024-05-10T06:00", now=now)
    since, until = params.time_range()
    assert since == now - timedelta(days=7)
    assert until == datetime(2024, 5, 10, 6, tzinfo=timezone.utc)


def test_links_toggle_a_filter_and_keep_everything_else():
    params = parse_params({"q": ["renault"], "lang": ["fr"], "offset": ["40"], "split": ["lang"]})
    add = params.toggle("source", "AFP")
    assert add == "?q=renault&lang=fr&source=AFP&split=lang"  # back to the first page
    remove = params.toggle("lang", "fr")
    assert remove == "?q=renault&split=lang"
    entity = params.toggle("entity", ("ORG", "nissan"))
    assert "entity=ORG%3Anissan" in entity
    # A link's query string parses back to the same parameters (shareable URLs).
    from urllib.parse import parse_qs

    again = parse_params(parse_qs(params.url()[1:]))
    assert again == params
