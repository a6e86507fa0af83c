"""Kill and withhold notices without text, and NewsML 1.2 embargoes.

A kill notice usually says only "this guid is canceled": refusing it for having
no text would leave the killed version searchable. It passes as a textless
tombstone with the same id as the story it kills; the alias hides it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from services.ingest.formats import InputError, parse_bytes

G2 = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:20240301:kill" version="{v}">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:EX"/>
    <versionCreated>2024-03-01T12:00:00Z</versionCreated><pubStatus qcode="{status}"/></itemMeta>
  {content}</newsItem>"""
G2_TEXT = """<contentMeta><headline>Minister resigns</headline></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml">
  <body><p>The minister resigned.</p></body></html></inlineXML></contentSet>"""


def _g2(status: str, v: int, content: str = "") -> bytes:
    return G2.format(status=status, v=v, content=content).encode()


def test_a_textless_newsml_g2_kill_is_a_tombstone_with_the_killed_story_id():
    [story] = parse_bytes(_g2("stat:usable", 1, G2_TEXT)).stories
    [kill] = parse_bytes(_g2("stat:canceled", 2)).stories
    assert (kill.pub_status, kill.headline, kill.body) == ("canceled", "", "")
    assert kill.id == story.id and kill.version == 2


def test_a_textless_usable_item_is_still_refused():
    with pytest.raises(InputError, match="no text content"):
        parse_bytes(_g2("stat:usable", 1))


@pytest.mark.parametrize("item, status", [
    ({"uri": "urn:newsml:example.com:20240301:k1", "version": "3", "pubStatus": "canceled"}, "canceled"),
    ({"uri": "urn:newsml:example.com:20240301:k2", "pubstatus": "withheld"}, "withheld"),
])
def test_a_textless_ninjs_kill_or_withhold_passes(item, status):
    [story] = parse_bytes(json.dumps(item).encode()).stories
    assert story.pub_status == status and story.guid == item["uri"] and story.text == ""


def test_a_textless_ninjs_kill_without_uri_cannot_hide_anything_and_is_refused():
    with pytest.raises(InputError, match="no text content"):
        parse_bytes(json.dumps({"type": "text", "pubStatus": "canceled"}).encode())


def test_a_textless_digitalwires_kill_passes():
    entry = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:240301-99-1", "version": 4,
             "pubstatus": "canceled"}
    [story] = parse_bytes(json.dumps(entry).encode()).stories
    assert (story.pub_status, story.guid, story.version) == ("canceled", entry["urn"], 4)


def test_a_textless_envelope_kill_passes_and_keeps_the_story_id():
    story = {"guid": "urn:x:kill-me", "source": "TEST", "headline": "Minister resigns", "body": "He did."}
    kill = {"guid": "urn:x:kill-me", "source": "TEST", "pub_status": "canceled", "version": 2}
    [first] = parse_bytes(json.dumps(story).encode()).stories
    [second] = parse_bytes(json.dumps(kill).encode()).stories
    assert second.id == first.id and second.pub_status == "canceled"
    with pytest.raises(InputError, match="neither headline nor body"):
        parse_bytes(json.dumps({"guid": "urn:x:empty", "source": "TEST"}).encode())


NEWSML_1_2 = """<NewsML><NewsItem>
  <Identification><NewsIdentifier><ProviderId>afp.com</ProviderId><DateId>20240301</DateId><NewsItemId>1</NewsItemId>
    <RevisionId>{rev}</RevisionId><PublicIdentifier>urn:newsml:afp.com:20240301:1:{rev}</PublicIdentifier>
  </NewsIdentifier></Identification>
  <NewsManagement><Status FormalName="{status}"/>{will_change}</NewsManagement>
  <NewsComponent>{lines}</NewsComponent></NewsItem></NewsML>"""
LINES = """<NewsLines><HeadLine>Results due</HeadLine></NewsLines>
  <ContentItem><DataContent><p>The results are out.</p></DataContent></ContentItem>"""


def _newsml_1_2(status: str, will_change: str = "", lines: str = LINES, rev: int = 1) -> bytes:
    return NEWSML_1_2.format(status=status, will_change=will_change, lines=lines, rev=rev).encode()


def test_newsml_1_2_embargo_lifts_at_status_will_change():
    change = ('<StatusWillChange><FutureStatus FormalName="Usable"/>'
              "<DateAndTime>20240302T060000+0000</DateAndTime></StatusWillChange>")
    [story] = parse_bytes(_newsml_1_2("Embargoed", change)).stories
    assert story.pub_status == "usable"
    assert story.embargo_until == datetime(2024, 3, 2, 6, 0, tzinfo=timezone.utc)


def test_newsml_1_2_embargo_without_a_time_is_withheld():
    [story] = parse_bytes(_newsml_1_2("Embargoed")).stories
    assert (story.pub_status, story.embargo_until) == ("withheld", None)


def test_newsml_1_2_textless_cancel_is_a_tombstone():
    [story] = parse_bytes(_newsml_1_2("Canceled", lines="", rev=2)).stories
    assert (story.pub_status, story.text) == ("canceled", "")


def test_newsml_1_2_revisions_share_one_id_so_a_later_one_replaces_the_earlier():
    [first] = parse_bytes(_newsml_1_2("Usable", rev=1)).stories
    [second] = parse_bytes(_newsml_1_2("Usable", rev=2)).stories
    assert first.id == second.id and (first.version, second.version) == (1, 2)
    assert first.guid == "urn:newsml:afp.com:20240301:1"
