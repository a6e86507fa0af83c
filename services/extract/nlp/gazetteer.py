"""Phrase matching of known names, for languages without an NER model.

Names come from the lists shipped in ``services/extract/data/*.tsv``
(``LABEL<TAB>name``; places.tsv is generated from Unicode CLDR by
data/build_gazetteer.py, orgs.tsv is hand-compiled) and from names the models
found in other stories processed by the same Enricher (``learn``). Matching
is on whole tokens, case-sensitive (so "Turkey" the country is not "turkey"
the bird), longest match first.
"""

from __future__ import annotations

import re
from pathlib import Path

from .normalize import Mention

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
_TOKEN = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*|[^\w\s]")
MAX_LEARNED = 50_000


def _tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


class Gazetteer:
    def __init__(self, data_dir: Path | None = DATA_DIR):
        self._first: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        self.learned = 0
        if data_dir is not None and data_dir.is_dir():
            for f in sorted(data_dir.glob("*.tsv")):
                for line in f.read_text(encoding="utf-8").splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    label, _, name = line.partition("\t")
                    if name.strip():
                        self.add(name.strip(), label.strip(), "gazetteer")

    def add(self, name: str, label: str, source: str = "gazetteer") -> bool:
        toks = tuple(t for _, _, t in _tokens(name))
        if not toks or not any(c.isupper() for c in name):
            return False
        bucket = self._first.setdefault(toks[0], [])
        if any(t == toks for t, _, _ in bucket):
            return False
        bucket.append((toks, label, source))
        bucket.sort(key=lambda x: -len(x[0]))
        return True

    def learn(self, name: str, label: str) -> None:
        """Remember a name a model found in another story (bounded)."""
        if self.learned < MAX_LEARNED and self.add(name, label, "learned"):
            self.learned += 1

    def __len__(self) -> int:
        return sum(len(v) for v in self._first.values())

    def find(self, seg: str, offset: int) -> list[Mention]:
        toks = _tokens(seg)
        out: list[Mention] = []
        i = 0
        while i < len(toks):
            hit = None
            for cand, label, source in self._first.get(toks[i][2], ()):
                n = len(cand)
                if tuple(t for _, _, t in toks[i:i + n]) == cand:
                    hit = (n, label, source)
                    break
            if hit:
                n, label, source = hit
                s, e = toks[i][0], toks[i + n - 1][1]
                # "gazetteer": a shipped list; "learned": a name a model found in an earlier story
                out.append(Mention(offset + s, offset + e, seg[s:e], label, source))
                i += n
            else:
                i += 1
        return out
