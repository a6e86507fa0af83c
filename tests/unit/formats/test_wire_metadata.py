"""What wire formats carry into the envelope: usage status and embargo, subjects, links, datelines, text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.contract import Dateline
from services.ingest.formats import InputError, parse_bytes

ISSUED = "20240301T120000+0000"


def _nitf(docdata_attributes: str = "", dates: str = "", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<nitf><head><title>Budget</title>
  <docdata {docdata_attributes}><doc-id id-string="PA-1"/><date.issue norm="{ISSUED}"/>{dates}{extra}
    <doc.copyright holder="Press Association"/></docdata></head>
<body><body.head><hedline><hl1>Budget vote</hl1></hedline></body.head>
<body.content><p>LONDON (PA) - The budget passed.</p></body.content></body></nitf>""".encode()


def _norm(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S+0000")


FUTURE = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)


@pytest.mark.parametrize("attributes, dates, pub_status, embargo_until", [
    ('management-status="usable"', "", "usable", None),
    ('management-status="canceled"', "", "canceled", None),
    ('management-status="cancelled"', "", "canceled", None),
    ('management-status="withheld"', "", "withheld", None),
    # The embargo time is date.release; the status says the release time is an embargo.
    ('management-status="embargoed"', f'<date.release norm="{_norm(FUTURE)}"/>', "usable", FUTURE),
    # A release time after the issue time is an embargo even without the status.
    ("", f'<date.release norm="{_norm(FUTURE)}"/>', "usable", FUTURE),
    # AAP's date.release equal to date.issue embargoes nothing.
    ('management-status="usable"', f'<date.release norm="{ISSUED}"/>', "usable", None),
    # Embargoed with no release time: held until a later version says otherwise.
    ('management-status="embargoed"', "", "withheld", None),
    # Past its date.expire the publisher no longer wants it used; before it, it is usable.
    ('management-status="usable"', '<date.expire norm="20240331T120000+0000"/>', "withheld", None),
    ('management-status="usable"', f'<date.expire norm="{_norm(FUTURE)}"/>', "usable", None),
])
def test_nitf_management_status_release_and_expiry(attributes, dates, pub_status, embargo_until):
    story = parse_bytes(_nitf(attributes, dates)).stories[0]
    assert (story.pub_status, story.embargo_until) == (pub_status, embargo_until)


def test_nitf_doc_scope_names_an_audience_not_a_kill():
    # NITF 3.x doc-scope is the area of interest ("POLITICS", "Midlantic States"); a value
    # there says nothing about the document's status.
    for scope in ("POLITICS", "kill"):
        story = parse_bytes(_nitf('management-status="usable"', extra=f'<doc-scope scope="{scope}"/>')).stories[0]
        assert story.pub_status == "usable"


@pytest.mark.parametrize("field", ["embargoed", "embargoedUntil"])
def test_ninjs_embargo_of_every_generation(field):
    # ninjs 1.x/2.x call it embargoed, 3.x embargoedUntil.
    item = {"uri": "urn:newsml:example.com:1", "headline": "Results", "body_text": "Profits doubled.",
            field: "2031-05-01T12:00:00Z"}
    story = parse_bytes(json.dumps(item).encode()).stories[0]
    assert story.embargo_until == datetime(2031, 5, 1, 12, tzinfo=timezone.utc)


RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Wire</title><atom:link rel="self" href="https://news.example.com/feeds/top.xml"/>
<item><title>Absolute</title><link>https://news.example.com/a</link><description>A.</description></item>
<item><title>Relative</title><link>/b</link><description>B.</description></item>
<item><title>Script</title><link>javascript:alert(1)</link><description>C.</description></item>
</channel></rss>"""


def test_feed_entries_carry_their_web_link():
    stories = parse_bytes(RSS).stories
    # A relative link resolved against the feed's own address; one no reader can open is dropped,
    # the story is kept.
    assert [story.link for story in stories] == ["https://news.example.com/a", "https://news.example.com/b", None]


def test_json_feed_item_url_is_the_link():
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Wire",
            "items": [{"id": "1", "url": "https://news.example.com/1", "external_url": "https://elsewhere.example/",
                       "title": "Vote", "content_text": "The vote."}]}
    assert parse_bytes(json.dumps(feed).encode()).stories[0].link == "https://news.example.com/1"


@pytest.mark.parametrize("renditions", [
    {"web": {"href": "https://news.example.com/vote.html", "mimetype": "text/html"},
     "pdf": {"href": "https://news.example.com/vote.pdf", "mimetype": "application/pdf"}},  # ninjs 1.x
    [{"name": "pdf", "href": "https://news.example.com/vote.pdf", "contentType": "application/pdf"},
     {"name": "web", "href": "https://news.example.com/vote.html", "contentType": "text/html"}],  # 2.x/3.x
])
def test_ninjs_html_rendition_is_the_link(renditions):
    item = {"uri": "http://ninjs.example.com/1", "headline": "Vote", "body_text": "The vote.",
            "renditions": renditions}
    assert parse_bytes(json.dumps(item).encode()).stories[0].link == "https://news.example.com/vote.html"


def test_ninjs_uri_is_an_identifier_not_a_link():
    item = {"uri": "http://ninjs.example.com/1", "headline": "Vote", "body_text": "The vote."}
    assert parse_bytes(json.dumps(item).encode()).stories[0].link is None


def test_newsml_g2_html_rendition_is_the_link():
    item = b"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:1" version="1">
      <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:EX"/></itemMeta>
      <contentMeta><headline>Vote</headline></contentMeta>
      <contentSet>
        <inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
          <p>The vote.</p></body></html></inlineXML>
        <remoteContent contenttype="image/jpeg" href="https://news.example.com/vote.jpg"/>
        <remoteContent contenttype="text/html" href="https://news.example.com/vote.html"/>
      </contentSet></newsItem>"""
    assert parse_bytes(item).stories[0].link == "https://news.example.com/vote.html"


def test_newsml_1_2_subject_codes_become_subjects():
    document = b"""<NewsML><NewsItem>
      <Identification><NewsIdentifier><ProviderId>afp.com</ProviderId><NewsItemId>1</NewsItemId>
        <RevisionId>1</RevisionId><PublicIdentifier>urn:newsml:afp.com:20240301:1:1</PublicIdentifier>
      </NewsIdentifier></Identification>
      <NewsComponent>
        <NewsLines><HeadLine>Markets rise</HeadLine></NewsLines>
        <DescriptiveMetadata>
          <SubjectCode><Subject FormalName="04000000"/></SubjectCode>
          <SubjectCode><SubjectMatter FormalName="04016000"/><SubjectDetail FormalName="04016007"/></SubjectCode>
          <SubjectCode><Subject FormalName="04000000"/><SubjectQualifier FormalName="sq:1"/></SubjectCode>
        </DescriptiveMetadata>
        <ContentItem><DataContent><p>Shares rose.</p></DataContent></ContentItem>
      </NewsComponent></NewsItem></NewsML>"""
    assert parse_bytes(document).stories[0].subjects == ["04000000", "04016000", "04016007"]


def test_ninjs_1_x_headline_and_body_pattern_properties():
    # ninjs 1.6: headline_* and body_* (the spec's own examples use headline_main, body_main, body_richtext).
    item = {"uri": "http://ninjs.example.com/2", "type": "text", "headline_main": "Trial opens",
            "body_main": "GROSSETO (AP) -- The trial began. The judge adjourned.",
            "body_richtext": "<p>GROSSETO (AP) -- The trial began.</p> <p>The judge adjourned.</p>"}
    story = parse_bytes(json.dumps(item).encode()).stories[0]
    assert story.headline == "Trial opens"
    assert story.body == "GROSSETO (AP) -- The trial began.\n\nThe judge adjourned."  # the markup keeps paragraphs
    del item["body_richtext"]
    assert parse_bytes(json.dumps(item).encode()).stories[0].body == item["body_main"]


def test_a_ninjs_item_without_text_names_the_properties_ninjs_does_not_define():
    item = {"uri": "http://ninjs.example.com/3", "type": "text", "versioncreated": "2013-07-09T10:37:00Z",
            "content": "The producer's own name for the body."}
    with pytest.raises(InputError) as info:
        parse_bytes(json.dumps(item).encode())
    assert info.value.reason == "no text content (a text item); not ninjs properties: content"


@pytest.mark.parametrize("field, expected", [
    ("Tel Aviv/Beirut (dpa) - ", Dateline(text="Tel Aviv/Beirut (dpa) -", place="Tel Aviv/Beirut", agency="dpa")),
    ("MADRID, 21 Nov. 2024 (Europa Press) -",
     Dateline(text="MADRID, 21 Nov. 2024 (Europa Press) -", place="MADRID", date="21 Nov. 2024", agency="Europa Press")),
    ("Berlin (dpa) -", Dateline(text="Berlin (dpa) -", place="Berlin", agency="dpa")),
])
def test_a_dpa_dateline_field_is_the_dateline_even_when_running_text_rules_miss_it(field, expected):
    document = {"format": "digitalwires@1.0", "urn": "urn:newsml:dpa.com:20090101:5", "headline": "Angriffe",
                "dateline": field, "article_html": "<section class=\"main\"><p>Die Vororte wurden getroffen.</p></section>"}
    story = parse_bytes(json.dumps(document).encode()).stories[0]
    assert story.dateline == expected
    assert story.body.startswith(field.strip())  # the dateline stays in the text as dpa sent it


def test_newsml_g2_inline_data_that_is_not_prose_is_not_story_text():
    # Events (or SportsML results, financial figures) inline in a newsItem are data, not a story.
    item = b"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:ev" version="1">
      <itemMeta><itemClass qcode="ninat:composite"/></itemMeta>
      <contentSet><inlineXML><events><event><name>Autumn Meeting</name></event></events></inlineXML></contentSet>
    </newsItem>"""
    with pytest.raises(InputError, match="no text content"):
        parse_bytes(item)
    prose = item.replace(b"<events><event><name>Autumn Meeting</name></event></events>",
                         b"<div><p>The meeting opened.</p></div>")
    assert parse_bytes(prose).stories[0].body == "The meeting opened."
