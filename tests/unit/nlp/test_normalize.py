from __future__ import annotations

from shared.contract import Story
from services.extract.nlp.normalize import canonical_key
from services.extract.nlp.textprep import parse_dateline, prepare

from .conftest import seed_text


def test_canonical_key_folds_case_accents_space():
    assert canonical_key("  Thierry   BOLLORÉ ") == "thierry bollore"
    assert canonical_key("l’Alliance") == canonical_key("l'alliance")


def test_datelines():
    d = parse_dateline("Tokyo (AFP) - New coup at Nissan")
    assert (d.place, d.agency) == ("Tokyo", "AFP")
    d = parse_dateline("CHATHAM, Mass. (AP) _ The town")
    assert (d.place, d.agency) == ("CHATHAM", "AP")
    d = parse_dateline("LONDON 1996-08-30")
    assert (d.place, d.date) == ("LONDON", "1996-08-30")
    assert parse_dateline("The group (which was) said") is None


def test_prepare_keeps_dateline_and_footer_out():
    text = "Tokyo (AFP)\n\nNissan said so.\n\n- A heading -\n\nMore text.\n\n© 2019 AFP"
    p = prepare(text)
    segs = [s for _, s in p.segments]
    assert segs == ["Nissan said so.", "- A heading -", "More text."]
    assert p.dateline.place == "Tokyo" and p.footer_agency == "AFP" and p.footer_year == 2019
    for off, seg in p.segments:
        assert text[off:off + len(seg)] == seg


def _ents(enricher, body, lang="en", headline=""):
    [s] = enricher.enrich([Story(id="x", headline=headline, body=body, language=lang)])
    return s


def test_titles_surnames_and_majority(enricher):
    s = _ents(enricher, "Tokyo (AFP) - Jun Seki will resign, Nissan said.\n\n"
                        "The company accepted Mr. Seki's wish. Mr. Seki will join the motor maker Nidec.\n\n"
                        "Seki was a candidate.")
    persons = [e for e in s.entities if e.label == "PERSON"]
    assert [e.text for e in persons] == ["Jun Seki"]
    assert persons[0].count == 4 and persons[0].key == "jun seki"
    for a, b in persons[0].offsets:
        assert s.text[a:b] in ("Jun Seki", "Seki")
    assert s.dateline and s.dateline.place == "Tokyo" and s.dateline.agency == "AFP"


def test_gazetteer_for_languages_without_a_model(enricher):
    enricher.gazetteer.learn("Carlos Ghosn", "PERSON")
    s = _ents(enricher, "Carlos Ghosn ist in Deutschland. Der Umsatz stieg um 3,2 Prozent.", lang="de")
    got = {(e.text, e.label, e.method) for e in s.entities}
    assert ("Carlos Ghosn", "PERSON", "learned") in got
    assert ("Deutschland", "LOC", "gazetteer") in got
    assert ("3,2 Prozent", "PERCENT", "rule") in got
    assert s.ner_model == "none"


def test_allcaps_heading_does_not_produce_entities_spanning_lines(enricher):
    s = _ents(enricher, "The talks in Geneva went on.\nRESULTS AND STANDINGS\nGeneva hosted them.",
              headline="SOCCER - TALKS IN GENEVA")
    for e in s.entities:
        for a, b in e.offsets:
            assert "\n" not in s.text[a:b]


def test_english_seed_canonical_names_and_values(enricher):
    s = _ents(enricher, seed_text("000"))
    texts = {e.text for e in s.entities if e.label == "PERSON"}
    assert {"Jun Seki", "Makoto Uchida", "Hiroto Saikawa", "Ashwani Gupta", "Carlos Ghosn"} <= texts
    assert "Seki" not in texts and "Uchida" not in texts
    by_text = {e.text: e for e in s.entities}
    assert by_text["Nidec"].label == "ORG"
    assert "GMT" not in by_text and "2019 AFP" not in by_text
    assert by_text["634.2 yen"].value == "634.2 JPY"
    assert {e.text: e.value for e in s.entities if e.label == "PERCENT"} == {
        "10%": "10%", "2.96%": "2.96%", "0 , 16%": "0.16%"}
    assert s.dateline.place == "Tokyo" and s.dateline.agency == "AFP"
    # the dateline's place and agency are entities at the dateline ("Tokyo (AFP)" opens the text)
    assert (0, 5) in by_text["Tokyo"].offsets and by_text["Tokyo"].label == "LOC"
    assert (7, 10) in by_text["AFP"].offsets and by_text["AFP"].label == "ORG"
    # the footer is not text for NER
    footer = s.text.rindex("© 2019 AFP")
    assert all(a < footer for e in s.entities for a, _ in e.offsets)


def test_french_seed_values(enricher):
    s = _ents(enricher, seed_text("001"), lang="fr")
    vals = {e.value for e in s.entities if e.value}
    assert "10760000 véhicules" in vals and "2018-11" in vals
    # its first line opens with a "date 2019-12" stamp: a dateline with a date only, not text for NER
    assert (s.dateline.text, s.dateline.date, s.dateline.place) == ("date 2019-12", "2019-12", None)
    assert all(a >= s.text.index("Renault") for e in s.entities for a, _ in e.offsets)
