"""Per-type precision/recall/F1 of entity extraction: ours (Enricher) vs raw spaCy.

Label mapping (documented in eval/README.md):
  gold CoNLL/WikiANN/GermEval PER, ORG, LOC, MISC (GermEval OTH and *deriv ->
  MISC, *part dropped);
  ours PERSON -> PER, ORG, LOC, MISC; DATE/MONEY/PERCENT/QUANTITY not scored;
  raw spaCy mapped with services.extract.nlp.labels.SPACY_TO_OURS (GPE/LOC/FAC
  -> LOC, NORP/EVENT/PRODUCT/WORK_OF_ART/LAW/LANGUAGE -> MISC, PERSON/PER ->
  PER), numeric types not scored.
Matching is exact on token span and type (CoNLL-style). "main" is the micro
average over PER/ORG/LOC; "all" adds MISC.

Each document is rebuilt as a story: sentences one per line; for CoNLL-2003
the first sentence is the headline (story.text = headline + "\\n\\n" + body).
Raw spaCy reads the same story.text in one piece.
"""

from __future__ import annotations

import time
from collections import Counter

from shared.contract import Story

from . import data

TYPES = ("PER", "ORG", "LOC", "MISC")
OURS_TO_GOLD = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}


def build_story(doc: data.Doc, lang: str, headline_first: bool, sid: str) -> tuple[Story, list[tuple[int, int]]]:
    """Story plus the [start, end) char offsets of every token, in doc order."""
    sents = [" ".join(s.tokens) for s in doc.sentences]
    if headline_first and len(sents) > 1:
        headline, body_sents = sents[0], sents[1:]
    else:
        headline, body_sents = "", sents
    story = Story(id=sid, headline=headline, body="\n".join(body_sents), language=lang)
    text = story.text
    offsets: list[tuple[int, int]] = []
    pos = 0
    for s in doc.sentences:
        for tok in s.tokens:
            start = text.index(tok, pos)
            offsets.append((start, start + len(tok)))
            pos = start + len(tok)
    return story, offsets


def gold_spans(doc: data.Doc) -> set[tuple[int, int, str]]:
    out, base = set(), 0
    for s in doc.sentences:
        for a, b, t in data.spans_from_tags(s.tags):
            if t in TYPES:
                out.add((base + a, base + b, t))
        base += len(s.tokens)
    return out


def char_spans_to_tokens(spans, tok_offsets) -> set[tuple[int, int, str]]:
    out = set()
    for s, e, t in spans:
        idx = [i for i, (a, b) in enumerate(tok_offsets) if a < e and b > s]
        if idx:
            out.add((idx[0], idx[-1] + 1, t))
    return out


def score(pred: list[set], gold: list[set]) -> dict:
    tp, fp, fn = Counter(), Counter(), Counter()
    for p, g in zip(pred, gold):
        for x in p:
            (tp if x in g else fp)[x[2]] += 1
        for x in g:
            if x not in p:
                fn[x[2]] += 1

    def prf(types):
        t = sum(tp[k] for k in types)
        p_ = sum(fp[k] for k in types)
        n_ = sum(fn[k] for k in types)
        prec = t / (t + p_) if t + p_ else 0.0
        rec = t / (t + n_) if t + n_ else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return {"p": round(prec, 4), "r": round(rec, 4), "f1": round(f1, 4), "support": t + n_}

    res = {k: prf([k]) for k in TYPES}
    res["main"] = prf(["PER", "ORG", "LOC"])
    res["all"] = prf(list(TYPES))
    return res


def _sets(quick: bool) -> dict[str, tuple[str, list[data.Doc], bool]]:
    n = 1000 if quick else 3000
    sets = {}
    d = data.conll2003("eng.testa")
    if d:
        sets["conll2003_eng_testa"] = ("en", d[:60] if quick else d, True)
    for lang in ("en", "fr", "de", "nl"):
        d = data.wikiann(lang, limit=n)
        if d:
            sets[f"wikiann_{lang}_dev"] = (lang, d, False)
    d = data.conll2002("esp.testa")
    if d:
        sets["conll2002_esp_testa"] = ("es", d[:60] if quick else d, False)
    d = data.conll2002("ned.testa")
    if d:
        sets["conll2002_ned_testa"] = ("nl", d[:60] if quick else d, False)
    d = data.germeval(limit=n, sents_per_doc=10)
    if d:
        sets["germeval_de_dev"] = ("de", d, False)
    return sets


def evaluate(quick: bool = False, only: set[str] | None = None, enricher=None) -> dict:
    from services.extract.nlp import MODELS, Enricher, load_ner
    from services.extract.nlp.labels import map_label

    enricher = enricher or Enricher(batch_size=16)
    raw_models = {}
    results = {}
    for name, (lang, docs, headline_first) in _sets(quick).items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        built = [build_story(d, lang, headline_first, f"{name}-{i}") for i, d in enumerate(docs)]
        stories = [b[0] for b in built]
        gold = [gold_spans(d) for d in docs]
        enriched = enricher.enrich(stories)
        ours = []
        for s, (_, toks) in zip(enriched, built):
            spans = [(a, b, OURS_TO_GOLD[e.label]) for e in s.entities if e.label in OURS_TO_GOLD
                     for a, b in e.offsets]
            ours.append(char_spans_to_tokens(spans, toks))
        entry = {"lang": lang, "docs": len(docs), "ours": score(ours, gold)}
        if lang in MODELS:
            if lang not in raw_models:
                raw_models[lang] = load_ner(lang)
            raw = []
            for doc, (_, toks) in zip(raw_models[lang].pipe((s.text for s in stories), batch_size=16), built):
                spans = []
                for ent in doc.ents:
                    lab = OURS_TO_GOLD.get(map_label(ent.label_) or "")
                    if lab:
                        spans.append((ent.start_char, ent.end_char, lab))
                raw.append(char_spans_to_tokens(spans, toks))
            entry["raw"] = score(raw, gold)
            entry["raw_model"] = MODELS[lang]
        else:
            entry["raw"] = None
            entry["raw_model"] = "none (no spaCy model for this language)"
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = entry
    return results
