"""Textless kills in the two formats test_kill_notices.py leaves out: an NITF
document with management-status="canceled" and a NewsML-G2 packageItem."""

from __future__ import annotations

import pytest

from services.ingest.formats import InputError, parse_bytes

NITF = """<nitf><head><docdata management-status="{status}"><doc-id id-string="{doc_id}"/>
  <doc.copyright holder="AAP"/></docdata></head>
  <body><body.head><hedline><hl1>{headline}</hl1></hedline></body.head><body.content>{body}</body.content></body></nitf>"""


def _nitf(status: str, headline: str = "", body: str = "", doc_id: str = "AAP-2024-1") -> bytes:
    return NITF.format(status=status, headline=headline, body=body, doc_id=doc_id).encode()


def test_a_textless_nitf_kill_is_a_tombstone_of_the_story_it_kills():
    [story] = parse_bytes(_nitf("usable", "Minister resigns", "<p>He did.</p>")).stories
    [kill] = parse_bytes(_nitf("canceled")).stories
    assert (kill.pub_status, kill.text) == ("canceled", "")
    assert kill.id == story.id


@pytest.mark.parametrize("status, doc_id", [("usable", "AAP-2024-1"), ("canceled", "")])
def test_a_textless_nitf_that_is_usable_or_names_no_doc_id_is_refused(status, doc_id):
    with pytest.raises(InputError, match="without headline or body"):
        parse_bytes(_nitf(status, doc_id=doc_id))


def test_an_empty_nitf_withheld_only_because_it_expired_is_no_kill_and_is_refused():
    expired = _nitf("usable").replace(b'<doc.copyright', b'<date.expire norm="20141226T152703"/><doc.copyright')
    with pytest.raises(InputError, match="without headline or body"):
        parse_bytes(expired)


PACKAGE = """<packageItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:pkg1" version="2">
  <itemMeta><itemClass qcode="ninat:composite"/><provider qcode="nprov:EX"/>
    <pubStatus qcode="{status}"/></itemMeta><groupSet root="G1"><group id="G1"/></groupSet></packageItem>"""


def test_a_textless_newsml_g2_package_kill_passes_and_a_usable_one_is_refused():
    [kill] = parse_bytes(PACKAGE.format(status="stat:canceled").encode()).stories
    assert (kill.pub_status, kill.guid) == ("canceled", "urn:newsml:example.com:pkg1")
    with pytest.raises(InputError, match="no text content"):
        parse_bytes(PACKAGE.format(status="stat:usable").encode())
