"""Within-story normalisation of entity mentions.

* Titles ("Mr.", "M.", "Mme", "Dr", ...) are stripped from name mentions; a
  titled mention is evidence that the name is a person.
* Leading articles/elisions ("the", "l'", "d'") and possessive "'s" are trimmed.
* Surname mentions ("Mr. Seki", "Seki") attach to the one full name in the same
  story whose last token they equal ("Jun Seki"), so the entity carries the full
  name and every mention's offsets.
* One label per entity: majority vote over its mentions, titled mentions
  voting PERSON; ties go to PERSON when there is person evidence.
* Canonical key: NFKD accent-folded, case-folded, whitespace-normalised,
  typographic apostrophes unified.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from shared.contract import Entity

from .labels import NAME_LABELS

TITLE_WORDS = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Lord", "Lady",
    "M", "MM", "Mme", "Mmes", "Mlle", "Me", "Pr",  # French
    "Herr", "Frau", "Hr", "Fr",  # German
    "Sr", "Sra", "Srta", "Don", "Doña", "Dña",  # Spanish
    "Sig", "Sig.ra", "Dott", "Dott.ssa", "On",  # Italian
    "Dhr", "Mevr", "Mw",  # Dutch
)
_TITLE_ALT = "|".join(sorted((re.escape(t) for t in TITLE_WORDS), key=len, reverse=True))
# A title must be followed by "." or by whitespace, then a capitalised word.
TITLE_RE = re.compile(rf"^(?:{_TITLE_ALT})(?:\.\s*|\s+)(?=[^\W\d_])")
TITLE_BEFORE_RE = re.compile(rf"(?:^|[\s(\"'“«])(?:{_TITLE_ALT})(?:\.\s*|\s+)$")
_LEADING_ARTICLE = re.compile(r"^(?:the\s+|l['’]|d['’])", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s?$")
_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "‐": "-"})


@lru_cache(maxsize=65536)  # the same few hundred names recur across a story and a batch
def canonical_key(text: str) -> str:
    s = unicodedata.normalize("NFKD", text.translate(_APOS))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.casefold()
    return re.sub(r"\s+", " ", s).strip()


# Keys that are never names, whatever a model says: time zones, job titles.
STOP_KEYS = frozenset({
    "gmt", "utc", "cet", "cest", "est", "edt", "pst", "pdt", "cst", "cdt", "bst", "jst", "ist", "msk",
    "ceo", "coo", "cfo", "cto", "cio", "vp", "md", "pdg", "dg", "mr", "mrs", "ms", "dr", "m", "mme",
    "the", "a", "an", "le", "la", "les", "l'", "der", "die", "das", "el", "los", "las", "il", "de", "het",
})
# A single-token "person" right after one of these nouns is a company ("manufacturer Nidec").
ORG_CUE_BEFORE = re.compile(
    r"\b(?:manufacturer|maker|automaker|carmaker|chipmaker|company|firm|group|bank|carrier|airline|"
    r"insurer|retailer|supplier|conglomerate|giant|subsidiary|operator|lender|brewer|publisher|"
    r"fabricant|constructeur|groupe|soci[ée]t[ée]|entreprise|banque|compagnie|Konzern|Hersteller|"
    r"Firma|Unternehmen|empresa|fabricante|grupo|azienda|gruppo|bedrijf|fabrikant|concern)\s+$",
    re.IGNORECASE,
)
_SPACED_DASH = re.compile(r"\s+[-–—]\s+")
_TRAILING_NUMBER = re.compile(r"(?:\s+[\d][\d.,:/\-]*)+$")
_TRAIL_PUNCT = " ,;:-–—\"'“”«»)"


@dataclass
class Mention:
    start: int
    end: int
    text: str
    label: str
    method: str = "model"
    value: str | None = None
    titled: bool = False
    weight: float = 1.0


def clean_mention(m: Mention, full_text: str) -> list[Mention]:
    """Normalise one name mention: split at spaced dashes, strip titles,
    articles, possessives, trailing scores and punctuation. Returns the
    cleaned mention(s), possibly none."""
    if m.label not in NAME_LABELS:
        return [m]
    span = full_text[m.start:m.end]
    parts = list(_split_dash(span, m.start))
    if len(parts) > 1:
        # "Lithuania - Danius Gleveckas": two names glued by a dash; each piece
        # keeps the label only as a weak vote.
        out = []
        for s, e in parts:
            out += clean_mention(Mention(s, e, full_text[s:e], m.label, m.method, m.value, m.titled, 0.0),
                                 full_text)
        return out
    c = _clean_one(m, full_text)
    return [c] if c is not None else []


def _split_dash(span: str, offset: int):
    pos = 0
    for d in _SPACED_DASH.finditer(span):
        yield offset + pos, offset + d.start()
        pos = d.end()
    yield offset + pos, offset + len(span)


def _clean_one(m: Mention, full_text: str) -> Mention | None:
    start, end = m.start, m.end
    span = full_text[start:end]
    while True:
        before = span
        while span and span[-1] in _TRAIL_PUNCT:
            span, end = span[:-1], end - 1
        mt = re.search(r"\s*['’]s?$", span)
        if mt and mt.start() > 0 and span[mt.start() - 1].isalpha() and (mt.group().strip() != "'" or span[mt.start() - 1] == "s"):
            span, end = span[: mt.start()], start + mt.start()
        mt = _TRAILING_NUMBER.search(span)
        if mt and mt.start() > 0:
            span, end = span[: mt.start()], start + mt.start()
        if span == before:
            break
    titled = m.titled
    while True:
        t = TITLE_RE.match(span)
        if not t or t.end() >= len(span):
            break
        span, start, titled = span[t.end():], start + t.end(), True
    a = _LEADING_ARTICLE.match(span)
    if a and a.end() < len(span) and m.label != "PERSON":
        span, start = span[a.end():], start + a.end()
    while span and span[0] in " \"'“”«»(-–—":
        span, start = span[1:], start + 1
    if not span or not any(c.isalpha() for c in span):
        return None
    key = canonical_key(span)
    if key in STOP_KEYS or (m.method == "model" and not any(c.isupper() for c in span)):
        return None  # time zones, job titles, and all-lowercase fragments ("qu'") are not names
    if not titled and TITLE_BEFORE_RE.search(full_text[max(0, start - 8):start]):
        titled = True
    label = m.label
    if titled and label in ("PERSON", "ORG", "MISC"):
        label = "PERSON"
    elif (label == "PERSON" and not titled and " " not in span
          and ORG_CUE_BEFORE.search(full_text[max(0, start - 40):start])):
        label = "ORG"
    return Mention(start, end, span, label, m.method, m.value, titled, m.weight)


def _tokens(key: str) -> list[str]:
    return key.split()


def _majority(group: list[Mention]) -> Counter:
    votes: Counter = Counter()
    for m in group:
        votes[m.label] += m.weight
    if not any(votes.values()):
        votes = Counter(m.label for m in group)
    return votes


def propagate(mentions: list[Mention], segments: list[tuple[int, str]], full_text: str) -> list[Mention]:
    """Mentions the model missed: other occurrences of a name already found in
    the story (exact, case-sensitive, on word boundaries), and bare surnames of
    persons named in full. They carry no label vote (weight 0)."""
    names = [m for m in mentions if m.label in NAME_LABELS]
    if not names:
        return []
    by_key: dict[str, list[Mention]] = {}
    for m in names:
        by_key.setdefault(canonical_key(m.text), []).append(m)
    targets: dict[str, tuple[str, str]] = {}  # surface -> (label, method)
    for key, group in by_key.items():
        label = _majority(group).most_common(1)[0][0]
        method = group[0].method
        for m in group:
            if len(m.text) >= 2 and m.text[0].isupper() and not m.text.isupper() or len(m.text) >= 3 and m.text.isupper():
                targets.setdefault(m.text, (label, method))
        toks = max(group, key=lambda x: len(x.text)).text.split()
        if label == "PERSON" and len(toks) >= 2:
            last = toks[-1]
            if len(last) >= 3 and last[0].isupper() and canonical_key(last) not in STOP_KEYS:
                targets.setdefault(last, ("PERSON", method))
    if not targets:
        return []
    covered = bytearray(len(full_text))
    for m in mentions:
        covered[m.start:m.end] = b"\x01" * (m.end - m.start)
    out = []
    for off, seg in segments:
        for a, b in _whole_word_matches(seg, targets):
            s, e = off + a, off + b
            if any(covered[s:e]):
                continue
            surface = seg[a:b]
            label, method = targets[surface]
            titled = bool(TITLE_BEFORE_RE.search(full_text[max(0, s - 8):s]))
            out.append(Mention(s, e, surface, label, method, None, titled, 0.0))
            covered[s:e] = b"\x01" * (e - s)
    return out


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _whole_word_matches(seg: str, targets) -> list[tuple[int, int]]:
    r"""Occurrences of any target in seg on word boundaries, leftmost first and the
    longest at a position, not overlapping: what the regex alternation
    (?<![\w'’-])(?:longest|...|shortest)(?![\w-]) finds, without compiling a new
    regex for every story (the re cache holds 512, a service sees millions)."""
    found = []
    for target in targets:
        size, start = len(target), seg.find(target)
        while start >= 0:
            end = start + size
            before = seg[start - 1] if start else ""
            after = seg[end] if end < len(seg) else ""
            if not (before and (_is_word_char(before) or before in "'’-")) and not (
                after and (_is_word_char(after) or after == "-")
            ):
                found.append((start, -size))
            start = seg.find(target, start + 1)
    found.sort()
    out, pos = [], 0
    for start, neg_size in found:
        if start >= pos:
            out.append((start, start - neg_size))
            pos = start - neg_size
    return out


def group_mentions(mentions: list[Mention], full_text: str) -> list[Entity]:
    """Group cleaned mentions into story entities (see module docstring)."""
    names: dict[str, list[Mention]] = {}
    values: dict[tuple[str, str], list[Mention]] = {}
    for m in mentions:
        if m.label in NAME_LABELS:
            names.setdefault(canonical_key(m.text), []).append(m)
        else:
            values.setdefault((m.label, canonical_key(m.text)), []).append(m)

    # Surname attachment: a one-token group with person evidence joins the one
    # multi-token group ending in that token.
    by_last: dict[str, list[str]] = {}
    for key in names:
        toks = _tokens(key)
        if len(toks) >= 2:
            by_last.setdefault(toks[-1], []).append(key)
    for key in list(names):
        toks = _tokens(key)
        if len(toks) != 1 or key not in by_last:
            continue
        group = names[key]
        person_evidence = any(m.label == "PERSON" or m.titled for m in group)
        if not person_evidence:
            continue
        targets = by_last[key]
        if len(targets) > 1:
            # Several full names share the surname: attach only when exactly one is a person.
            targets = [t for t in targets if any(x.label == "PERSON" or x.titled for x in names[t])]
        if len(targets) != 1:
            continue
        for m in group:
            m.label = "PERSON"
        names[targets[0]].extend(group)
        del names[key]

    out: list[Entity] = []
    for key, group in names.items():
        votes = _majority(group)
        surname_mentions = len(_tokens(key)) > 1 and any(
            len(_tokens(canonical_key(m.text))) == 1 and m.label == "PERSON" for m in group
        )
        person_evidence = any(m.titled for m in group) or surname_mentions
        top = votes.most_common()
        label = top[0][0]
        if len(top) > 1 and top[0][1] == top[1][1]:
            tied = {lab for lab, n in top if n == top[0][1]}
            if "PERSON" in tied and person_evidence:
                label = "PERSON"
            else:  # first-seen among the tied labels
                label = next(m.label for m in sorted(group, key=lambda x: x.start) if m.label in tied)
        # Canonical surface form: the fullest (longest) mention text, first seen on ties.
        surface = max(sorted(group, key=lambda x: x.start), key=lambda x: len(x.text)).text
        method = Counter(m.method for m in group).most_common(1)[0][0]
        offsets = sorted({(m.start, m.end) for m in group})
        out.append(Entity(text=surface, label=label, key=canonical_key(surface), count=len(offsets),
                          offsets=offsets, method=method))
    for (label, key), group in values.items():
        offsets = sorted({(m.start, m.end) for m in group})
        first = min(group, key=lambda x: x.start)
        value = next((m.value for m in group if m.value), None)
        key = canonical_key(value) if value else key
        method = Counter(m.method for m in group).most_common(1)[0][0]
        out.append(Entity(text=first.text, label=label, key=key, count=len(offsets), offsets=offsets,
                          method=method, value=value))
    out.sort(key=lambda e: (e.offsets[0] if e.offsets else (0, 0)))
    return out
