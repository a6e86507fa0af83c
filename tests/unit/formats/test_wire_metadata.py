"""Wire metadata the envelope must carry: NITF usage status and embargo, NewsML 1.2 subjects."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from services.ingest.formats import parse_bytes

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
