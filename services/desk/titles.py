"""A title for every story: its headline, or one derived from the lede when it has none.

Plain-text wires (the AFP seed) often arrive without a headline; a result list of
empty lines is useless. The derived title is the first sentence of the first
paragraph that says something after its dateline ("Tokyo (AFP) -" is cut off),
shortened at a word boundary, and always marked as derived wherever it is shown.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.dateline import parse_dateline

MAX_TITLE_CHARS = 140
UNTITLED = "Untitled story"

# A full stop after one of these does not end a sentence ("Mr. Seki", "M. Macron", "U.S. troops").
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "gov", "sen", "rep", "lt", "col", "capt",
    "sgt", "rev", "hon", "inc", "corp", "co", "ltd", "plc", "no", "nos", "vs", "etc", "approx", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "m", "mme", "mlle", "me", "dr", "hr", "fr", "nr", "bzw", "ca", "u.s", "u.k", "u.n", "e.u",
})
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s+[\"'«“‘(\[]?[A-ZÀ-ÖØ-Þ0-9])")


@dataclass(frozen=True)
class Title:
    text: str
    derived: bool


def story_title(headline: str | None, body: str | None, max_chars: int = MAX_TITLE_CHARS) -> Title:
    """The headline when there is one, else a title derived from the lede."""
    if headline and headline.strip():
        return Title(" ".join(headline.split()), derived=False)
    lede = first_lede(body or "")
    if not lede:
        return Title(UNTITLED, derived=True)
    return Title(shorten(first_sentence(lede), max_chars), derived=True)


def first_lede(body: str) -> str:
    """The first paragraph with text after its dateline, whitespace collapsed."""
    for paragraph in re.split(r"\n\s*\n", body):
        text = " ".join(paragraph.split())
        dateline = parse_dateline(text)
        if dateline is not None:
            text = text[dateline.end:].strip()
        if text:
            return text
    return ""


def first_sentence(text: str) -> str:
    for match in _SENTENCE_END.finditer(text):
        word = re.search(r"(\S+?)[.!?…]*[\"'»”’)\]]*$", text[:match.end()])
        previous = (word.group(1) if word else "").rstrip(".").lower()
        if match.group().startswith(".") and (previous in _ABBREVIATIONS or _is_initial(previous)):
            continue
        return text[:match.end()].strip()
    return text.strip()


def _is_initial(word: str) -> bool:
    # "J." in "Jun J. Seki", "A.B." in initials: one letter, or letters separated by dots.
    return bool(re.fullmatch(r"(?:\w\.)*\w", word)) and len(word.replace(".", "")) <= 2


def shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars - 1]
    if " " in cut[max_chars // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:-–—") + "…"
