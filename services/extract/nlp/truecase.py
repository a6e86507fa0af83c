"""Story-internal truecasing of ALL-CAPS lines before NER.

Small spaCy models read capitals as a name signal, so an all-caps heading
("BASEBALL - MAJOR LEAGUE STANDINGS", "LEICESTERSHIRE TAKE OVER AT TOP") comes
out as a run of bogus entities. For such a line NER reads a truecased copy:
each word takes the casing it most often has in the story's mixed-case lines
(not counting line- or sentence-initial words); words never seen there are
lower-cased (``UNKNOWN_TITLE`` = False: measured slightly better on CoNLL-2003 than title-casing). The copy has exactly the
same length, so offsets still point into the story text; when a case change
would alter the length (e.g. "ß"), the line is left as it is.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
UNKNOWN_TITLE = False


_NON_LETTER = re.compile(r"[\W\d_]+")
_INITIAL_PUNCT = frozenset('.!?:"“«')


def is_shouting(text: str) -> bool:
    """All cased letters upper-case (and at least four letters)."""
    letters = _NON_LETTER.sub("", text)
    return len(letters) >= 4 and letters.isupper()


def _case_map(segments: list[tuple[int, str]]) -> dict[str, str]:
    forms: dict[str, Counter] = {}
    for _, seg in segments:
        if is_shouting(seg):
            continue
        initial = True
        for raw in seg.split():
            w = raw.strip(".,;:!?\"“”«»()[]'’")
            if w and w.isalpha() and not initial:
                forms.setdefault(w.lower(), Counter())[w] += 1
            initial = raw[-1] in _INITIAL_PUNCT
    return {k: c.most_common(1)[0][0] for k, c in forms.items()}


def truecase_segments(segments: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if not any(is_shouting(seg) for _, seg in segments):
        return segments
    cmap = _case_map(segments)
    out = []
    for off, seg in segments:
        if not is_shouting(seg):
            out.append((off, seg))
            continue

        def fix(m: re.Match) -> str:
            w = m.group()
            low = w.lower()
            if low in cmap:
                return cmap[low]
            return w.title() if UNKNOWN_TITLE else low

        new = _WORD.sub(fix, seg)
        out.append((off, new if len(new) == len(seg) else seg))
    return out
