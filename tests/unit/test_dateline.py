"""The one dateline parser (shared.dateline) that ingest and extract both use."""

from __future__ import annotations

import pytest

from shared.dateline import date_parts, parse_dateline


@pytest.mark.parametrize("line, place, region, agency, date, rest", [
    ("Tokyo (AFP) -", "Tokyo", None, "AFP", None, ""),
    ("Tokyo (AFP) - New coup at Nissan", "Tokyo", None, "AFP", None, "New coup at Nissan"),
    ("Tokyo (AFP)", "Tokyo", None, "AFP", None, ""),
    ("CHATHAM, Mass. (AP) _ The town", "CHATHAM", "Mass.", "AP", None, "The town"),
    ("LONDON, March 3 - Shares fell", "LONDON", None, None, "March 3", "Shares fell"),
    ("PARIS, 3 mars (Reuters) - La Bourse", "PARIS", None, "Reuters", "3 mars", "La Bourse"),
    ("LONDON 1996-08-30", "LONDON", None, None, "1996-08-30", ""),
    ("NEW YORK, Feb 26 - Shares", "NEW YORK", None, None, "Feb 26", "Shares"),
    ("MADRID, 21 Nov. 2024 (Europa Press) - El Gobierno", "MADRID", None, "Europa Press", "21 Nov. 2024", "El Gobierno"),
    ("Tel Aviv/Beirut (dpa) - Die Vororte", "Tel Aviv/Beirut", None, "dpa", None, "Die Vororte"),
    ("Boulogne-Billancourt (France) (AFP) - Le conseil", "Boulogne-Billancourt", "France", "AFP", None, "Le conseil"),
    ("STOCKHOLM, Aug 29, 2014 (AFP) -", "STOCKHOLM", None, "AFP", "Aug 29, 2014", ""),
    ("SEOUL, Nov 26 AFP - Samsung has", "SEOUL", None, "AFP", "Nov 26", "Samsung has"),
    ("Tegucigalpa, Jan 2 (EFE).- Test body.", "Tegucigalpa", None, "EFE", "Jan 2", "Test body."),
    ("(ANSA) - Rome, October 11 - Italian Foreign", "Rome", None, "ANSA", "October 11", "Italian Foreign"),
    ("(Reuters) - Shares fell", None, None, "Reuters", None, "Shares fell"),
    ("SUNNYVALE, Calif., March 2 - ", "SUNNYVALE", "Calif.", None, "March 2", ""),
    ("BUENOS AIRES, Argentina (AP) _ For cancer", "BUENOS AIRES", "Argentina", "AP", None, "For cancer"),
    ("MILWAUKEE , Wisconsin 1996-08-29", "MILWAUKEE", "Wisconsin", None, "1996-08-29", ""),
    ("Frankfurt am Main (dpa) - Die Bank", "Frankfurt am Main", None, "dpa", None, "Die Bank"),
    ("Jan 3 (OPTA) - Results", None, None, "OPTA", "Jan 3", "Results"),
    ("OTTAWA - A Manitoba man is facing", "OTTAWA", None, None, None, "A Manitoba man is facing"),
    ("KANSAS CITY, Mo.", "KANSAS CITY", "Mo.", None, None, ""),
    ("MARCH 04, 2013", None, None, None, "MARCH 04, 2013", ""),
    # a labelled date stamp fused to the first line, as in the French seed story
    ("date 2019-12 Renault, Nissan et Mitsubishi ont tenu", None, None, None, "2019-12", "Renault, Nissan et Mitsubishi ont tenu"),
])
def test_datelines(line, place, region, agency, date, rest):
    d = parse_dateline(line)
    assert d is not None
    assert (d.place, d.region, d.agency, d.date, line[d.end:]) == (place, region, agency, date, rest)
    assert d.text == line[:d.end].strip()


@pytest.mark.parametrize("line", [
    "Nissan shares - a sharp fall",
    "The group said on Wednesday.",
    "- Strategic disagreements -",
    "The group (which was) said",
    "Renault (France) - the carmaker said",
    "Boulogne-Billancourt (Hauts-de-Seine), leur réunion mensuelle",
    "Mr. Ghosn (left) - pictured in Tokyo",
    "Renault-Nissan: the alliance",
    "New coup at Nissan: Jun Seki, the number three",
    "Shares of Nissan (NSANY) - a sharp fall",
    "Keith Osborne ( RW )",
    "Islamitische Jihad ( PIJ ) - Palestijns",
    "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .",
    "BREAKING: Nissan chief resigns",
    "SPD – 7 Sitze",
    "LVMH - Moët Hennessy Louis Vuitton",
    "July 8 - Egyptian ambassador-designate is killed",
    "Don Rickles , July 2 , 1974",
    "Lewis Nixon , February 3 , 1919 - May 3 , 1919",
    "By Arpan Varghese Jan 30 (Reuters) - Gold rose",
    "The Commodity Credit Corporation (CCC)",
    "LONDON",
    "",
])
def test_ordinary_text_is_not_a_dateline(line):
    assert parse_dateline(line) is None


def test_spans_point_at_the_parts_and_are_offset():
    line = "Tel Aviv/Beirut (dpa) - Die Vororte"
    d = parse_dateline(line, offset=10)
    text = " " * 10 + line
    assert [text[a:b] for a, b in d.place_spans] == ["Tel Aviv", "Beirut"]
    assert text[slice(*d.place_span)] == "Tel Aviv/Beirut"
    assert text[slice(*d.agency_span)] == "dpa"
    assert (d.start, text[d.end:]) == (10, "Die Vororte")
    d = parse_dateline("CHATHAM, Mass. (AP) _ The town")
    assert "CHATHAM, Mass. (AP) _ The town"[slice(*d.region_span)] == "Mass."
    d = parse_dateline("MADRID, 21 Nov. 2024 (Europa Press) - El")
    assert "MADRID, 21 Nov. 2024 (Europa Press) - El"[slice(*d.date_span)] == "21 Nov. 2024"


def test_contract_form_keeps_the_region_with_the_place():
    assert parse_dateline("CHATHAM, Mass. (AP) _ The town").to_contract().model_dump() == {
        "text": "CHATHAM, Mass. (AP) _", "place": "CHATHAM, Mass.", "agency": "AP", "date": None}
    assert parse_dateline("Boulogne-Billancourt (France) (AFP) - Le").to_contract().place == "Boulogne-Billancourt (France)"
    assert parse_dateline("MILWAUKEE , Wisconsin 1996-08-29").to_contract().place == "MILWAUKEE, Wisconsin"


@pytest.mark.parametrize("text, parts", [
    ("1996-08-30", (1996, 8, 30)), ("2019-12", (2019, 12, None)), ("March 3", (None, 3, 3)),
    ("3 mars", (None, 3, 3)), ("21 Nov. 2024", (2024, 11, 21)), ("Aug 29, 2014", (2014, 8, 29)),
    ("Marc 3", (None, None, None)), (None, (None, None, None)),
])
def test_date_parts(text, parts):
    assert date_parts(text) == parts


def test_a_long_line_of_capitalised_words_is_rejected_quickly():
    import time

    line = "Aaa Bbb Ccc, Ddd Eee (Fff) " * 400
    t = time.perf_counter()
    for _ in range(50):
        assert parse_dateline(line) is None
    assert time.perf_counter() - t < 0.5
