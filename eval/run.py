"""Run the whole evaluation and write eval/results.json.

    python -m eval.run            # full (a few minutes on 2 cores)
    python -m eval.run --quick    # subsets, < 1 minute
    python -m eval.run --only langid|ner

Data: ../shared/data (or $WIRESTREAM_SHARED_DATA); sets that are absent are
skipped, and with no data at all the run prints that and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from eval import data  # noqa: E402


def _fmt(x) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def print_tables(results: dict) -> None:
    lid = results.get("langid") or {}
    if lid:
        # Four decimals: one sentence in 2000 is 0.0005, and a rule that moves a
        # few must not print as +0.000.
        print("\nLanguage ID accuracy (und counts as wrong)")
        print(f"{'set':34s} {'n':>6s} {'raw':>7s} {'ours':>7s} {'delta':>8s} {'und':>7s} {'lib80':>7s}")
        for name, r in lid.items():
            print(f"{name:34s} {r['n']:6d} {r['raw']:7.4f} {r['ours']:7.4f} "
                  f"{r['ours'] - r['raw']:+8.4f} {r['ours_und']:7.4f} {r['raw_lib']:7.4f}")
    ner = results.get("ner") or {}
    if ner:
        print("\nNER F1 (exact span + type); main = micro PER/ORG/LOC; raw = same spaCy model, mapped labels")
        print(f"{'set':22s} {'type':5s} {'ours P':>7s} {'ours R':>7s} {'ours F1':>8s} {'raw F1':>7s} {'delta':>7s} {'support':>8s}")
        for name, r in ner.items():
            for t in ("PER", "ORG", "LOC", "MISC", "main"):
                o = r["ours"][t]
                raw = r["raw"][t]["f1"] if r.get("raw") else None
                delta = f"{o['f1'] - raw:+7.3f}" if raw is not None else "    n/a"
                print(f"{name:22s} {t:5s} {o['p']:7.3f} {o['r']:7.3f} {o['f1']:8.3f} {_fmt(raw):>7s} {delta} {o['support']:8d}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.run")
    ap.add_argument("--quick", action="store_true", help="subsets only")
    ap.add_argument("--only", choices=["langid", "ner"])
    ap.add_argument("--out", default=str(REPO / "eval" / "results.json"))
    args = ap.parse_args(argv)

    root = data.data_root()
    if not root.is_dir():
        print(f"eval: shared data not found at {root}; nothing to evaluate (skipped)")
        return 0
    results: dict = {"data_root": str(root), "quick": args.quick}
    t0 = time.perf_counter()
    if args.only in (None, "langid"):
        from eval.langid import evaluate as lid_eval

        results["langid"] = lid_eval(quick=args.quick)
    if args.only in (None, "ner"):
        from eval.ner import evaluate as ner_eval

        results["ner"] = ner_eval(quick=args.quick)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_tables(results)
    print(f"\nwritten to {out} in {results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
