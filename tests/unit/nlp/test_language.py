from __future__ import annotations

import pytest

from services.langdetect.function_words import eligible_words
from services.langdetect.language import (
    DEFAULT_UND_THRESHOLD,
    NEAR_TIE,
    LanguageGuess,
    identify_language,
    model_candidates,
)

from .conftest import seed_text


def _raw_top(text: str) -> tuple[str, float]:
    """The lite model's own top answer, before any of our rules."""
    return model_candidates(text)[0]


@pytest.mark.parametrize(
    "body, code",
    [
        ("The central bank raised interest rates on Wednesday, citing stubborn inflation.", "en"),
        ("La banque centrale a relevé ses taux directeurs mercredi, invoquant une inflation tenace.", "fr"),
        ("Die Zentralbank hat am Mittwoch die Leitzinsen angehoben und verwies auf die hartnäckige Inflation.", "de"),
        ("El banco central subió los tipos de interés el miércoles, citando una inflación persistente.", "es"),
    ],
)
def test_paragraphs(body, code):
    g = identify_language("", body)
    assert isinstance(g, LanguageGuess)
    assert g.code == code
    # No rule fires on a plain sentence: the confidence is the model's own probability.
    assert g.confidence == round(_raw_top(body)[1], 4)
    assert g.confidence > 0.8


def test_newlines_are_accepted():
    g = identify_language("Rates rise again", "The central bank raised rates.\n\nMarkets fell sharply.")
    assert g.code == "en"


def test_empty_text_is_und():
    assert identify_language("", "  \n ") == LanguageGuess("und", 0.0)


def test_no_letters_is_und():
    assert identify_language("", "145 , 118 , 102").code == "und"


def test_low_confidence_is_und_at_the_default_threshold():
    # Hawaiian, which the lite model does not know: it guesses Greek at 0.0798.
    text = "Olaila, ua ʻōlelo ka mōʻī"
    code, p = _raw_top(text)
    assert code == "el" and p < DEFAULT_UND_THRESHOLD
    g = identify_language("", text)
    assert g == LanguageGuess("und", round(p, 4))
    # The caller's threshold decides: with none, the (wrong) guess comes back.
    assert identify_language("", text, und_threshold=0.0).code == "el"


def test_threshold_is_the_callers():
    body = "Die Zentralbank hat am Mittwoch die Leitzinsen angehoben."
    g = identify_language("", body)
    assert g.code == "de"
    assert identify_language("", body, und_threshold=g.confidence + 0.001) == LanguageGuess("und", g.confidence)
    assert identify_language("", body, und_threshold=g.confidence).code == "de"


def test_seed_stories():
    assert identify_language("", seed_text("000")).code == "en"
    assert identify_language("", seed_text("001")).code == "fr"


@pytest.mark.parametrize(
    "text, raw_code",
    [
        # "Bank of Japan governor Kazuo Ueda said on Wednesday": 總 and 週三 are Chinese.
        ("日本銀行總裁植田和男週三表示", "ja"),
        # "Shanghai stocks fell on Wednesday": the model answers Waray.
        ("上海股市週三下跌", "war"),
    ],
)
def test_han_without_kana_is_chinese(text, raw_code):
    code, p = _raw_top(text)
    assert code == raw_code  # the rule, not the model, gives zh
    g = identify_language("", text)
    assert g == LanguageGuess("zh", round(p, 4))  # zh carries the model's top probability


def test_chinese_label_needs_han_or_kana():
    # Yi syllables: the model has never seen the script and says zh at 0.92.
    text = "ꆈꌠꁱꂷ ꀊꆨꌠ"
    assert _raw_top(text)[0] == "zh"
    g = identify_language("", text)
    assert g.code == "und"
    assert g.confidence < DEFAULT_UND_THRESHOLD


def test_kana_means_japanese():
    assert identify_language("", "日産の関副最高執行責任者が退任する見通しだと発表した。").code == "ja"


def test_hangul_is_korean():
    assert identify_language("", "닛산 자동차는 수요일 성명을 발표했다.").code == "ko"


@pytest.mark.parametrize("text", ["De minister is ziek.", "De bal is rond.", "Zij is hier."])
def test_short_dutch_by_function_words(text):
    code, p = _raw_top(text)
    assert code == "en"  # the model's error the rule corrects
    g = identify_language("", text)
    assert g == LanguageGuess("nl", round(p, 4))


def test_function_words_do_not_override_names():
    # "De" and "van" here are parts of names, not Dutch words.
    assert identify_language("", "Robert De Niro is an actor.").code == "en"
    assert identify_language("", "Paintings by Vincent van Gogh were sold in London.").code == "en"


def test_eligible_words_leave_out_names_and_titles():
    assert eligible_words(["De minister is ziek."]) == ["de", "minister", "is", "ziek"]
    assert eligible_words(["De Morgen"]) == []  # a newspaper, not an article
    assert eligible_words(["works by Vincent van Gogh and Charles de Gaulle"]) == ["works", "by", "and"]
    assert "sur" not in eligible_words(["Saint-Michel-sur-Orge , une commune"])
    assert eligible_words(["Staring at the Sun"]) == []  # title case: its "at the" is the title's
    assert eligible_words(["23 may ( EFE ) .", "Llegó el ministro."])[-3:] == ["llegó", "el", "ministro"]


def test_declared_breaks_a_real_near_tie():
    text = "Streik in Berlin"
    (c1, p1), (c2, p2) = model_candidates(text)[:2]
    assert (c1, c2) == ("en", "de") and p1 < NEAR_TIE * p2  # the model's own near-tie
    assert identify_language("", text).code == "en"
    g = identify_language("", text, declared="de")
    # The hint wins with the top probability, so it is not turned into und.
    assert g == LanguageGuess("de", round(p1, 4))
    assert g.confidence >= DEFAULT_UND_THRESHOLD


def test_declared_breaks_a_near_tie_after_the_script_rule():
    # Osaka governor: kanji only, ja 0.58 vs zh 0.42; no kana makes it zh, the feed may say ja.
    assert identify_language("", "大阪府知事").code == "zh"
    assert identify_language("", "大阪府知事", declared="ja").code == "ja"
    assert identify_language("", "大阪府知事", declared="ja-JP").code == "ja"  # tags are normalised


def test_declared_dutch_keeps_its_confidence():
    g = identify_language("", "De minister is ziek.", declared="nl")
    assert g.code == "nl"
    assert g.confidence == round(_raw_top("De minister is ziek.")[1], 4)


def test_declared_never_overrides_a_clear_answer():
    g = identify_language("", "The central bank raised interest rates on Wednesday.", declared="de")
    assert g.code == "en"
    g = identify_language("", "The central bank raised interest rates on Wednesday.", declared="nl")
    assert g.code == "en"


def test_iso_codes():
    from services.langdetect.iso639 import acceptable, normalise_code, to_iso

    assert to_iso("__label__en") == "en"
    assert to_iso("als") == "gsw"  # fastText 'als' is Alemannic, not Tosk Albanian
    assert to_iso("ceb") == "ceb"  # no 639-1 code: 639-3 stays
    assert normalise_code("eng") == "en" and normalise_code("fr_FR") == "fr"
    assert "zh" in acceptable("cmn") and "no" in acceptable("nob") and "sq" in acceptable("als")


def test_service_default_threshold_is_the_measured_one():
    from shared.settings import LangdetectSettings

    assert LangdetectSettings().und_threshold == DEFAULT_UND_THRESHOLD
