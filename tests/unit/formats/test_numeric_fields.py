"""A version or urgency that is present but not an integer is refused naming the
field, never replaced by the update time or dropped; numeric text ("3") is read
where senders give numbers as strings (XML always does, some JSON feeds too)."""

from __future__ import annotations

import json

import pytest

from services.ingest.formats import InputError, parse_bytes

NINJS = {"uri": "urn:newsml:example.com:20240301:n1", "type": "text", "headline": "Minister resigns",
         "body_text": "The minister resigned.", "versioncreated": "2024-03-01T12:00:00Z"}
DIGITALWIRES = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:240301-99-1",
                "headline": "Minister tritt zurück", "article_html": "<p>Der Minister trat zurück.</p>",
                "version_created": "2024-03-01T12:00:00Z"}
G2 = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:20240301:g" version="{v}">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:EX"/>
    <versionCreated>2024-03-01T12:00:00Z</versionCreated><pubStatus qcode="stat:usable"/></itemMeta>
  <contentMeta><headline>Minister resigns</headline></contentMeta>
  <contentSet><inlineXML contenttype="text/plain"><p xmlns="http://www.w3.org/1999/xhtml">He did.</p></inlineXML>
  </contentSet></newsItem>"""


def _json(document: dict, **fields) -> bytes:
    return json.dumps({**document, **fields}).encode()


@pytest.mark.parametrize("document", [NINJS, DIGITALWIRES], ids=["ninjs", "digitalwires"])
@pytest.mark.parametrize("version", ["abc", "1.5", -2, True, [1]])
def test_a_version_that_is_not_an_integer_is_refused_naming_the_field(document, version):
    with pytest.raises(InputError, match="invalid field 'version'"):
        parse_bytes(_json(document, version=version))


@pytest.mark.parametrize("document", [NINJS, DIGITALWIRES], ids=["ninjs", "digitalwires"])
@pytest.mark.parametrize("version, expected", [("3", 3), (" 7 ", 7), (4, 4), (2.0, 2)])
def test_a_numeric_version_is_read(document, version, expected):
    assert parse_bytes(_json(document, version=version)).stories[0].version == expected


def test_an_absent_version_is_still_the_update_time():
    assert parse_bytes(_json(NINJS)).stories[0].version == 20240301120000


def test_a_newsml_g2_version_attribute_that_is_not_a_number_is_refused():
    with pytest.raises(InputError, match="invalid field '@version'"):
        parse_bytes(G2.format(v="draft").encode())
    assert parse_bytes(G2.format(v="12").encode()).stories[0].version == 12


@pytest.mark.parametrize("document", [NINJS, DIGITALWIRES], ids=["ninjs", "digitalwires"])
def test_urgency_as_numeric_text_is_kept_and_nonsense_is_refused(document):
    assert parse_bytes(_json(document, urgency="3")).stories[0].urgency == 3
    assert parse_bytes(_json(document, urgency=2)).stories[0].urgency == 2
    with pytest.raises(InputError, match="invalid field 'urgency'"):
        parse_bytes(_json(document, urgency="high"))


def test_one_item_with_a_bad_version_is_that_items_error_in_a_batch():
    batch = [dict(NINJS, uri="urn:x:1", version="2"), dict(NINJS, uri="urn:x:2", version="two")]
    result = parse_bytes(json.dumps(batch).encode())
    assert [s.version for s in result.stories] == [2]
    reason = "invalid field 'version': expected an integer, got 'two'"
    assert [(e.index, e.reason) for e in result.errors] == [(1, reason)]
