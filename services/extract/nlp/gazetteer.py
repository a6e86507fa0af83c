"""Phrase matching of known names, for languages without an NER model.

Names come from the lists shipped in ``services/extract/data/*.tsv``
(``LABEL<TAB>name``; places.tsv is generated from Unicode CLDR by
data/build_gazetteer.py, orgs.tsv is hand-compiled) and from names the models
found in other stories processed by the same Enricher (``learn``). Matching
is on whole tokens, case-sensitive (so "Turkey" the country is not "turkey"
the bird), longest match first.

The names are a trie over tokens (nested dicts, one level per token), so both
costs are bounded whatever the number of names: learning a name walks its own
tokens, and matching walks at most ``MAX_NAME_TOKENS`` trie levels from each
token of a story (every name sharing a first token, as 20,000 "Saint ..."
names do, shares one path instead of being scanned one by one).
"""

from __future__ import annotations

import re
from pathlib import Path

from .normalize import Mention

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
_TOKEN = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*|[^\w\s]")
MAX_LEARNED = 50_000
# Longest name kept, in tokens: the shipped lists' longest has 10 ("Saint Helena,
# Ascension and Tristan da Cunha" is 8); a longer "name" is a model's run-on
# span, and this bound is what bounds the matching work per token.
MAX_NAME_TOKENS = 12
# The key under which a trie node keeps the name ending there: (label, source).
# Tokens are non-empty strings, so it can never clash with a child.
_END = ""


def _tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


class Gazetteer:
    def __init__(self, data_dir: Path | None = DATA_DIR, extra_files: tuple[Path | str, ...] = ()):
        """`extra_files`: more lists in the same format (WIRESTREAM_EXTRA_NAMES), after the shipped ones."""
        self._root: dict = {}
        self._size = 0
        self.learned = 0
        # Trie nodes visited by the last find(): the work it did, for tests and benchmarks.
        self.last_find_steps = 0
        files = sorted(data_dir.glob("*.tsv")) if data_dir is not None and data_dir.is_dir() else []
        for extra in extra_files:
            if not Path(extra).is_file():
                raise ValueError(f"extra names list {extra} (WIRESTREAM_EXTRA_NAMES) is not a readable file")
            files.append(Path(extra))
        for f in files:
            for line in f.read_text(encoding="utf-8").splitlines():
                if not line.strip() or line.startswith("#"):
                    continue
                label, _, name = line.partition("\t")
                if name.strip():
                    self.add(name.strip(), label.strip(), "gazetteer")

    def add(self, name: str, label: str, source: str = "gazetteer") -> bool:
        """Add a name; False when it has no capital, is too long, or is known already
        (the first label and source given for a name stay)."""
        toks = [t for _, _, t in _tokens(name)]
        if not toks or len(toks) > MAX_NAME_TOKENS or not any(c.isupper() for c in name):
            return False
        node = self._root
        for tok in toks:
            node = node.setdefault(tok, {})
        if _END in node:
            return False
        node[_END] = (label, source)
        self._size += 1
        return True

    def learn(self, name: str, label: str) -> None:
        """Remember a name a model found in another story (bounded)."""
        if self.learned < MAX_LEARNED and self.add(name, label, "learned"):
            self.learned += 1

    def __len__(self) -> int:
        return self._size

    def find(self, seg: str, offset: int) -> list[Mention]:
        toks = _tokens(seg)
        root = self._root
        out: list[Mention] = []
        steps = 0
        i, n_toks = 0, len(toks)
        while i < n_toks:
            # Walk the trie from token i; the deepest node holding a name is the
            # longest match. At most MAX_NAME_TOKENS steps, however many names.
            node, j, hit = root, i, None
            while j < n_toks:
                node = node.get(toks[j][2])
                steps += 1
                if node is None:
                    break
                j += 1
                if _END in node:
                    hit = (j, node[_END])
            if hit:
                j, (label, source) = hit
                s, e = toks[i][0], toks[j - 1][1]
                # "gazetteer": a shipped list; "learned": a name a model found in an earlier story
                out.append(Mention(offset + s, offset + e, seg[s:e], label, source))
                i = j
            else:
                i += 1
        self.last_find_steps = steps
        return out
