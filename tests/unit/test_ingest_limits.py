"""Limits a later stage would enforce are checked at ingest (issue 9, items 0, 2 and 14):
a story that could never be indexed is refused with a 4xx naming the field and the
limit, on every channel, instead of a 202 and a dead letter later."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.contract import Story, max_version_now
from shared.limits import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, max_raw_story_bytes
from shared.messages import encode_story
from services.ingest.admission import StoryLimits, admit
from services.ingest.files import ingest_paths
from services.ingest.formats import InputError, parse_bytes

LIMITS = StoryLimits(KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
G2 = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:20240301:u" version="2">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:EX"/></itemMeta>
  <contentMeta><urgency>{u}</urgency><headline>Minister resigns</headline></contentMeta>
  <contentSet><inlineXML contenttype="text/plain"><p xmlns="http://www.w3.org/1999/xhtml">He did.</p></inlineXML>
  </contentSet></newsItem>"""


def _envelope(**fields) -> bytes:
    return json.dumps({"guid": "urn:test:limits", "source": "AFP", "headline": "H", "body": "B", **fields}).encode()


def _story_of_encoded_size(size: int, filler: str = "a") -> dict:
    """An envelope whose encoded record value is exactly `size` bytes (filler of one encoded byte each)."""
    base = {"guid": "urn:test:size", "source": "AFP", "headline": "Big", "body": ""}
    parsed = parse_bytes(json.dumps(base).encode()).stories[0]
    overhead = len(encode_story(parsed).value)
    return {**base, "body": filler * (size - overhead)}


# -- urgency (Elasticsearch maps it as integer; IPTC defines 1..9) ---------------------------

@pytest.mark.parametrize("urgency", [0, 10, 2**31, 2**40])
def test_an_urgency_outside_iptc_1_to_9_is_refused_naming_the_field_and_the_limit(urgency):
    with pytest.raises(InputError, match=r"invalid field 'urgency'.*less than or equal to 9|"
                                         r"invalid field 'urgency'.*greater than or equal to 1"):
        parse_bytes(_envelope(urgency=urgency))
    with pytest.raises(InputError, match=r"invalid urgency.*(less|greater) than or equal to (9|1)"):
        parse_bytes(G2.format(u=urgency).encode())


@pytest.mark.parametrize("urgency", [1, 4, 9])
def test_urgencies_the_real_samples_use_are_accepted(urgency):
    assert parse_bytes(_envelope(urgency=urgency)).stories[0].urgency == urgency
    assert parse_bytes(G2.format(u=urgency).encode()).stories[0].urgency == urgency


def test_real_samples_use_urgencies_inside_the_limit(shared_data):
    # The decision's evidence: every urgency in the shared wire samples is within 1..9.
    from services.ingest.files import iter_files, parse_file

    found = set()
    files, _ = iter_files([shared_data / d for d in ("newsml-g2_iptc_examples", "ninjs_iptc_examples",
                                                     "dpa_digitalwires_json_and_newsmlg2", "wire_agency_samples")])
    for path in files:
        try:
            found.update(s.urgency for s in parse_file(path).stories if s.urgency is not None)
        except InputError:
            continue
    assert found and found <= set(range(1, 10))


def test_a_declared_language_longer_than_any_language_tag_is_refused():
    # A keyword without ignore_above: Lucene refuses a term over 32,766 bytes at index time.
    with pytest.raises(InputError, match=r"invalid field 'declared_language'.*at most 35"):
        parse_bytes(_envelope(declared_language="x" * 40_000))
    assert parse_bytes(_envelope(declared_language="zh-Hant-TW")).stories[0].declared_language == "zh-Hant-TW"


# -- version: revision numbers or YYYYMMDDHHMMSS, at most one day ahead ---------------------

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)


def test_the_version_ceiling_is_tomorrow_as_a_timestamp():
    assert max_version_now(NOW) == 20261204120000


@pytest.mark.parametrize("version", [2**63 - 1, 10**15, 20261204120001])
def test_a_version_far_in_the_future_is_refused_naming_the_field_and_the_limit(version):
    result = parse_bytes(_envelope(version=version, pub_status="canceled"))
    with pytest.raises(InputError, match=r"invalid field 'version'.*20261204120000") as caught:
        admit(result, LIMITS, now=NOW)
    assert caught.value.status == 400


@pytest.mark.parametrize("version", [1, 7, 20261203115959, 20261204120000])
def test_revision_numbers_and_timestamps_up_to_a_day_ahead_are_accepted(version):
    assert admit(parse_bytes(_envelope(version=version)), LIMITS, now=NOW).stories[0].version == version


def test_a_version_derived_from_a_future_update_time_is_refused_too():
    # An RSS entry dated next year gets version 2027...; it would outrank every real update.
    updated = (NOW + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    rss = f"""<rss version="2.0"><channel><title>W</title><item><title>Future</title><guid>g1</guid>
        <pubDate>{updated}</pubDate><description>Text.</description></item>
        <item><title>Now</title><guid>g2</guid><pubDate>Thu, 03 Dec 2026 10:00:00 GMT</pubDate>
        <description>Text.</description></item></channel></rss>""".encode()
    admitted = admit(parse_bytes(rss), LIMITS, now=NOW)
    assert [s.guid for s in admitted.stories] == ["g2"]
    assert [(e.index, e.status) for e in admitted.errors] == [(0, 400)]
    assert "invalid field 'version'" in admitted.errors[0].reason


# -- the encoded record must fit the broker's limit less the enrichment reserve -------------

def test_the_story_limit_follows_from_the_broker_limit():
    assert LIMITS.max_story_bytes == max_raw_story_bytes(KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
    assert StoryLimits(2 * 1024 * 1024).max_story_bytes > LIMITS.max_story_bytes


def test_a_story_just_under_the_limit_is_admitted_and_one_byte_more_is_413_naming_the_limit():
    limit = LIMITS.max_story_bytes
    at_limit = parse_bytes(json.dumps(_story_of_encoded_size(limit)).encode())
    assert len(encode_story(at_limit.stories[0]).value) == limit
    assert len(admit(at_limit, LIMITS).stories) == 1
    over = parse_bytes(json.dumps(_story_of_encoded_size(limit + 1)).encode())
    with pytest.raises(InputError) as caught:
        admit(over, LIMITS)
    assert caught.value.status == 413
    assert f"exceeds the limit of {limit} bytes" in caught.value.reason
    assert f"record limit of {KAFKA_DEFAULT_MAX_MESSAGE_BYTES} bytes" in caught.value.reason


def test_the_size_is_measured_on_the_encoded_record_not_the_characters():
    # A quote is one character and two bytes in JSON: a body of quotes that is half the
    # limit in characters is over it once encoded (what the broker would see).
    body = '"' * (LIMITS.max_story_bytes // 2 + 1000)
    story = parse_bytes(_envelope(body=body)).stories[0]
    assert len(story.body) < LIMITS.max_story_bytes < len(encode_story(story).value)
    assert LIMITS.too_large(story)


def test_in_a_batch_only_the_oversize_story_is_refused_with_its_index_and_413():
    small = {"guid": "urn:test:small", "source": "AFP", "headline": "Small", "body": "Fits."}
    big = _story_of_encoded_size(LIMITS.max_story_bytes + 10)
    admitted = admit(parse_bytes(json.dumps([small, big, small | {"guid": "urn:test:small2"}]).encode()), LIMITS)
    assert [s.guid for s in admitted.stories] == ["urn:test:small", "urn:test:small2"]
    assert [(e.index, e.status) for e in admitted.errors] == [(1, 413)]
    only_big = admit(parse_bytes(json.dumps([big, big]).encode()), LIMITS)
    assert not only_big.stories and only_big.only_status() == 413


def test_refusals_keep_the_index_of_their_item_among_parse_errors():
    small = {"guid": "urn:test:a", "source": "AFP", "headline": "A", "body": "Fits."}
    broken = {"guid": "urn:test:b", "headline": 42}
    big = _story_of_encoded_size(LIMITS.max_story_bytes + 10)
    admitted = admit(parse_bytes(json.dumps([broken, small, big]).encode()), LIMITS)
    assert [(e.index, e.status) for e in admitted.errors] == [(0, 400), (2, 413)]


def test_wirestream_ingest_lists_an_oversize_story_and_sends_the_rest(tmp_path):
    class Recorder:
        limits = LIMITS

        def __init__(self):
            self.published = []

        def publish(self, stories):
            self.published.extend(stories)

    (tmp_path / "big.json").write_text(json.dumps(_story_of_encoded_size(LIMITS.max_story_bytes + 1)))
    (tmp_path / "small.json").write_text(_envelope().decode())
    publisher = Recorder()
    summary = ingest_paths([tmp_path], publisher, max_bytes=5_000_000, show_progress=False)
    assert [s.guid for s in publisher.published] == ["urn:test:limits"]
    assert summary.accepted == 1
    assert len(summary.rejected) == 1 and summary.rejected[0][0].endswith("big.json")
    assert "exceeds the limit of" in summary.rejected[0][1]


def test_wirestream_ingest_refuses_an_oversize_file_without_reading_it(tmp_path, monkeypatch):
    from pathlib import Path

    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50_000_000)  # sparse: 50 MB on paper
    reads = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    summary = ingest_paths([path], None, max_bytes=1_000_000, show_progress=False)
    assert reads == []
    assert "file of 50000000 bytes exceeds the limit of 1000000" in summary.rejected[0][1]


def test_the_contract_itself_refuses_what_elasticsearch_would():
    with pytest.raises(ValueError):
        Story(id="x", urgency=2**31)
    with pytest.raises(ValueError):
        Story(id="x", declared_language="y" * 36)
