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
