from __future__ import annotations

import pytest

from services.langdetect.language import LanguageGuess, identify_language

from .conftest import seed_text


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
    assert 0.5 <= g.confidence <= 1.0


def test_newlines_are_accepted():
    g = identify_language("Rates rise again", "The central bank raised rates.\n\nMarkets fell sharply.")
    assert g.code == "en"


def test_empty_text_is_und():
    assert identify_language("", "  \n ").code == "und"


def test_threshold_gives_und():
    g = identify_language("", "Paris Berlin", und_threshold=0.999)
    assert g.code == "und"
    assert 0.0 <= g.confidence < 0.999


def test_seed_stories():
    assert identify_language("", seed_text("000")).code == "en"
    assert identify_language("", seed_text("001")).code == "fr"


def test_han_without_kana_is_chinese_not_japanese():
    g = identify_language("", "东京股市周三下跌，日产汽车股价下跌百分之三。")
    assert g.code == "zh"


def test_kana_means_japanese():
    assert identify_language("", "日産の関副最高執行責任者が退任する見通しだと発表した。").code == "ja"


def test_hangul_is_korean():
    assert identify_language("", "닛산 자동차는 수요일 성명을 발표했다.").code == "ko"


def test_declared_breaks_a_near_tie_only():
    # Han-only text: zh vs ja is a dead heat, the feed's declaration decides.
    assert identify_language("", "東京都知事選挙", declared="ja").code == "ja"
    assert identify_language("", "東京都知事選挙").code == "zh"
    # A clear answer is never overridden by the declaration.
    g = identify_language("", "The central bank raised interest rates on Wednesday.", declared="de")
    assert g.code == "en"


def test_declared_tags_are_normalised():
    g = identify_language("", "東京都知事選挙", declared="ja-JP")
    assert g.code == "ja"


def test_no_letters_is_und():
    assert identify_language("", "145 , 118 , 102").code == "und"


def test_iso_codes():
    from services.langdetect.iso639 import acceptable, normalise_code, to_iso

    assert to_iso("__label__en") == "en"
    assert to_iso("als") == "gsw"  # fastText 'als' is Alemannic, not Tosk Albanian
    assert to_iso("ceb") == "ceb"  # no 639-1 code: 639-3 stays
    assert normalise_code("eng") == "en" and normalise_code("fr_FR") == "fr"
    assert "zh" in acceptable("cmn") and "no" in acceptable("nob") and "sq" in acceptable("als")
