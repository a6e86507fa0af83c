"""NewsML-G2 provider and dateline as Reuters sends them: a provider literal, and a
<dateline> that holds the filing time while the text opens with the real dateline."""

from __future__ import annotations

import pytest

from services.ingest.formats import parse_bytes
from tests.conftest import shared_data_dir

ITEM = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="tag:reuters.com,2014:newsml_X1" version="5">
  <itemMeta><itemClass qcode="icls:text"/><provider literal="reuters.com"/></itemMeta>
  <contentMeta><located qcode="city:Bangalore"><name>Bangalore</name></located>
    <headline>Assad sworn in</headline><dateline>2014-07-16 15:53:10 GMT+00:00</dateline></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
    <p>{first}</p><p>DAMASCUS (Reuters) - Bashar al-Assad was sworn in on Wednesday.</p></body></html></inlineXML>
  </contentSet></newsItem>"""


def test_provider_literal_is_the_source():
    [story] = parse_bytes(ITEM.format(first="By Marwan Makdisi").encode()).stories
    assert story.source == "reuters.com"


def test_a_timestamp_dateline_field_gives_the_date_and_the_text_gives_place_and_agency():
    [story] = parse_bytes(ITEM.format(first="By Marwan Makdisi").encode()).stories
    d = story.dateline
    assert (d.place, d.agency, d.date) == ("DAMASCUS", "Reuters", "2014-07-16 15:53:10 GMT+00:00")


def test_located_is_the_place_only_when_the_text_opens_with_no_dateline():
    [story] = parse_bytes(ITEM.format(first="Syria's president began a new term.").encode()).stories
    d = story.dateline
    assert (d.place, d.date) == ("Bangalore", "2014-07-16 15:53:10 GMT+00:00")


REUTERS = shared_data_dir() / "wire_agency_samples" / "newsml-g2"


@pytest.mark.parametrize("name, place", [
    ("tag_reuters.com_2014_newsml_KBN0FL0NN_version_5.xml", "DAMASCUS"),
    ("tag_reuters.com_2014_newsml_KBN0FL0ZP_version_2.xml", "BEIRUT"),
])
def test_reuters_samples_name_reuters_and_the_place_they_were_filed_from(name, place):
    path = REUTERS / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    [story] = parse_bytes(path.read_bytes()).stories
    assert story.source == "reuters.com"
    assert (story.dateline.place, story.dateline.agency) == (place, "Reuters")
