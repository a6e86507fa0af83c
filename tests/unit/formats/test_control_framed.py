"""IPTC 7901 and ANPA-1312: every frame of a transmission, headline vs by-line,
provider, and the ANPA keyword as the id that lets a write-thru replace its story.

The frames here are written for these tests in the layout of the shared samples
(dpa IPTC 7901, AP ANPA-1312); no agency text is copied."""

from __future__ import annotations

import pytest

from services.ingest.formats import InputError, parse_bytes

SOH, STX, ETX, SYN = "\x01", "\x02", "\x03", "\x16"


def iptc(heading: str, header: str = "eca0124 3 i 93  dpa 1888", body: str = "Berlin (dpa) - The text.") -> str:
    return f"{SOH}{header}\r\n\r\nGermany/politics/\r\n{STX}{heading}\r\n\r\n{body}\r\n\r\n{ETX}212101 GMT Nov 18\r\n"


def anpa(keyword: str = "BC-US--Lobster-Death", version: str = "", headline: str = "Lobster found dead",
         lead: str = "CHATHAM, Mass. (AP) _ A lobster died.", byline: str = "", extra: str = "") -> str:
    slug = f"{keyword} {version}".strip()
    return (f"{SYN}{SYN}{SOH}G7787\x1fglbsm\r\nr d\x13\x11 {slug}   08-29 0590\r\n"
            f"{STX}^{keyword},127<\r\n^{headline}<\r\n{byline}\t   {lead}\r\n{extra}\r\n"
            f"\t   {ETX}AP-WF-08-29-16 1626GMT<\r\n")


def parse(text: str):
    return parse_bytes(text.encode("latin-1"))


@pytest.mark.parametrize("heading, headline, byline", [
    ("Coalition talks could fail =", "Coalition talks could fail", None),
    ("EXTRA\nPeace talks next month, Mattis says =", "Peace talks next month, Mattis says", None),
    ("REFILE\n1ST LEAD\nSwiss join list of countries\nBy dpa correspondents =",
     "Swiss join list of countries", "By dpa correspondents"),
    ("(Achtung)\nImpressum =", "Impressum", None),
])
def test_iptc7901_headline_is_the_heading_not_the_by_line_or_a_flag(heading, headline, byline):
    [story] = parse(iptc(heading)).stories
    assert (story.headline, story.byline) == (headline, byline)
    assert story.body == "Berlin (dpa) - The text."


@pytest.mark.parametrize("header, provider", [
    ("eca062 4 i 211 ccccb   dpa 061", "dpa"),  # an optional code before the originator
    ("ecp0007 4 s 850  dpa-tns 0908", "dpa"),   # dpa's feed of Tribune News Service copy
    ("eca0001 4 rs 46  dpa 0027", "dpa"),
])
def test_iptc7901_provider_is_the_originator_field(header, provider):
    [story] = parse(iptc("A headline =", header=header)).stories
    assert story.source == provider


def test_every_frame_of_a_transmission_is_a_story_and_a_bad_frame_an_item_error():
    text = iptc("First story =") + f"{SOH}eca0125 3 i 5  dpa 1889\r\n{STX}\r\n{ETX}" + iptc("Third story =")
    result = parse(text)
    assert [s.headline for s in result.stories] == ["First story", "Third story"]
    assert [(e.index, e.reason) for e in result.errors] == [(1, "IPTC 7901 item without text")]


def test_a_lone_unusable_frame_is_still_refused():
    with pytest.raises(InputError, match="without text"):
        parse(f"{SOH}eca0125 3 i 5  dpa 1889\r\n{STX}\r\n{ETX}")


def test_several_anpa_frames_are_several_stories():
    result = parse(anpa(headline="One") + anpa(keyword="BC-US--Other-Story", headline="Two"))
    assert [s.headline for s in result.stories] == ["One", "Two"]
    assert len({s.id for s in result.stories}) == 2


def test_an_anpa_write_thru_replaces_the_earlier_version():
    [first] = parse(anpa()).stories
    [second] = parse(anpa(version="1stLd-Writethru", headline="Giant lobster found dead")).stories
    [fourth] = parse(anpa(version="3rdLd-Writethru")).stories
    assert first.guid == "BC-US--Lobster-Death 08-29-16"
    assert first.id == second.id == fourth.id
    assert (first.version, second.version, fourth.version) == (1, 2, 4)


def test_anpa_news_alerts_share_a_generic_keyword_so_they_get_no_guid():
    one = parse(anpa(keyword="BC-US--APNewsAlert", lead="HONOLULU (AP) _ One thing.")).stories[0]
    two = parse(anpa(keyword="BC-US--APNewsAlert", lead="HONOLULU (AP) _ Another thing.")).stories[0]
    assert one.guid is None and one.id != two.id


def test_anpa_by_line_is_the_by_line_and_its_title_not_the_headings_of_a_table():
    byline = "^By JANE DOE=\r\n^AP Sports Writer=\r\n"
    [story] = parse(anpa(byline=byline)).stories
    assert story.byline == "By JANE DOE, AP Sports Writer"
    table = "^By The Associated Press=\r\n^AMERICAN LEAGUE=\r\n^East Division=\r\n"
    [standings] = parse(anpa(byline=table, lead="Boston 24 14")).stories
    assert standings.byline == "By The Associated Press"
    assert standings.body.split("\n\n")[:3] == ["AMERICAN LEAGUE", "East Division", "Boston 24 14"]
