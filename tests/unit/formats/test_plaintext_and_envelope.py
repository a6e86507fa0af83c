import json

import pytest

from services.ingest.formats import InputError, parse_bytes
from services.ingest.formats.plaintext import parse_dateline


@pytest.mark.parametrize("line, place, agency, date, rest", [
    ("Tokyo (AFP) - New coup at Nissan", "Tokyo", "AFP", None, "New coup at Nissan"),
    ("CHATHAM, Mass. (AP) _ The fishing fleet", "CHATHAM, Mass.", "AP", None, "The fishing fleet"),
    ("LONDON, March 3 - Shares fell", "LONDON", None, "March 3", "Shares fell"),
    ("PARIS, 3 mars (Reuters) - La Bourse", "PARIS", "Reuters", "3 mars", "La Bourse"),
    ("Tokyo (AFP)", "Tokyo", "AFP", None, ""),
    ("NEW YORK, Feb 26 - Stocks rose", "NEW YORK", None, "Feb 26", "Stocks rose"),
    ("LONDON 1996-08-30", "LONDON", None, "1996-08-30", ""),
    ("MADRID, 21 Nov. 2024 (Europa Press) - El Gobierno", "MADRID", "Europa Press", "21 Nov. 2024", "El Gobierno"),
    ("Tel Aviv/Beirut (dpa) - Die Vororte", "Tel Aviv/Beirut", "dpa", None, "Die Vororte"),
    ("Boulogne-Billancourt (France) (AFP) - Le conseil", "Boulogne-Billancourt (France)", "AFP", None, "Le conseil"),
])
def test_datelines(line, place, agency, date, rest):
    dateline, remainder = parse_dateline(line)
    assert (dateline.place, dateline.agency, dateline.date, remainder) == (place, agency, date, rest)


@pytest.mark.parametrize("line", ["Nissan shares - a sharp fall", "The group said on Wednesday.", "- Strategic disagreements -",
                                  "Renault (France) - the carmaker said", "The Commodity Credit Corporation (CCC)",
                                  "SOCCER - JAPAN GET LUCKY WIN"])
def test_ordinary_sentences_are_not_datelines(line):
    assert parse_dateline(line) is None


def test_plain_text_story_with_headline_and_dateline():
    text = b"Central bank holds rates\n\nFRANKFURT, March 3 (dpa) - The bank kept rates.\n\nSecond paragraph."
    story = parse_bytes(text).stories[0]
    assert story.headline == "Central bank holds rates"
    assert story.body == "FRANKFURT, March 3 (dpa) - The bank kept rates.\n\nSecond paragraph."
    assert (story.dateline.place, story.dateline.date, story.dateline.agency) == ("FRANKFURT", "March 3", "dpa")


def test_plain_text_dateline_is_parsed_and_the_text_kept_as_sent():
    text = "Tokyo (AFP)\n\nNissan's number three resigns.\n\nMore text."
    story = parse_bytes(text.encode()).stories[0]
    assert (story.dateline.place, story.dateline.agency, story.source) == ("Tokyo", "AFP", "AFP")
    assert story.headline == ""
    assert story.body == text


def test_headline_then_inline_dateline():
    story = parse_bytes(b"Nissan number three to quit\n\nTOKYO (AFP) - Jun Seki will resign.").stories[0]
    assert story.headline == "Nissan number three to quit"
    assert (story.dateline.place, story.dateline.agency) == ("TOKYO", "AFP")
    assert story.body == "TOKYO (AFP) - Jun Seki will resign."


def test_a_date_stamp_fused_to_the_first_line_is_the_dateline_and_the_text_is_kept():
    # The French seed story opens "date 2019-12 Renault, Nissan et ...": a metadata field run into the text.
    text = "date 2019-12 Renault, Nissan et Mitsubishi ont tenu leur réunion.\n\nSuite."
    story = parse_bytes(text.encode()).stories[0]
    assert (story.dateline.text, story.dateline.date, story.dateline.place) == ("date 2019-12", "2019-12", None)
    assert story.body == text and story.headline == ""


def test_a_lone_dateline_is_not_a_story():
    with pytest.raises(InputError):
        parse_bytes(b"Tokyo (AFP)")


def test_same_text_gives_same_id():
    data = "Tokyo (AFP)\n\nNissan's number three resigns.".encode()
    assert parse_bytes(data).stories[0].id == parse_bytes(data).stories[0].id


def test_latin1_text_is_decoded():
    story = parse_bytes("Les d\xe9put\xe9s ont vot\xe9 la r\xe9forme des retraites \xe0 l'Assembl\xe9e nationale.".encode("latin-1")).stories[0]
    assert "députés" in story.body


@pytest.mark.parametrize("data, status, words", [
    (b"", 400, "empty"),
    (b"   \n\n ", 400, "empty"),
    (b"\x00\x01\x02binary\x00junk" * 10, 415, "binary"),
    (b'{"headline": "x", "body": ', 400, "malformed JSON"),
    (b'{"headline": 5, "body": "x"}', 400, "headline"),
    (b'{"headline": "", "body": ""}', 400, "neither headline nor body"),
])
def test_bad_input_is_rejected_with_a_reason(data, status, words):
    with pytest.raises(InputError) as info:
        parse_bytes(data)
    assert info.value.status == status
    assert words in info.value.reason


def test_oversized_input_is_413():
    with pytest.raises(InputError) as info:
        parse_bytes(b"x" * 2000, max_bytes=1000)
    assert info.value.status == 413


def test_envelope_batch_keeps_good_items_and_names_bad_ones():
    batch = [{"guid": "a", "source": "X", "headline": "One"}, {"headline": ["bad"]}, {"body": "Three"}]
    result = parse_bytes(json.dumps(batch).encode())
    assert [s.headline or s.body for s in result.stories] == ["One", "Three"]
    assert [(e.index, "headline" in e.reason) for e in result.errors] == [(1, True)]


def test_envelope_id_is_recomputed_from_source_and_guid():
    a = parse_bytes(json.dumps({"id": "forged", "guid": "g1", "source": "AFP", "headline": "v1"}).encode()).stories[0]
    b = parse_bytes(json.dumps({"guid": "g1", "source": "AFP", "headline": "v2", "version": 2}).encode()).stories[0]
    assert a.id == b.id != "forged"


def test_batch_of_non_objects_yields_only_item_errors():
    result = parse_bytes(b"[1, 2]")
    assert result.stories == []
    assert [e.index for e in result.errors] == [0, 1]
    assert all("JSON object" in e.reason for e in result.errors)


def test_envelope_is_not_mistaken_for_ninjs():
    # A ninjs 1.x item also has guid and headline; our envelope's `body` and `pub_status` tell them apart.
    envelope = {"guid": "g1", "source": "AFP", "headline": "Killed", "body": "Text.", "pub_status": "canceled",
                "version": 2, "embargo_until": "2030-01-01T00:00:00Z"}
    result = parse_bytes(json.dumps(envelope).encode())
    story = result.stories[0]
    assert result.format == "envelope"
    assert (story.body, story.pub_status, story.version, story.embargo_until.year) == ("Text.", "canceled", 2, 2030)
