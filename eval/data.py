"""Loaders for the shared research data (never copied into the repo).

The data root is ``$WIRESTREAM_SHARED_DATA`` or ``../shared/data`` relative to
the repository; every loader returns nothing when its files are absent, so the
evaluation skips a set cleanly instead of failing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    env = os.environ.get("WIRESTREAM_SHARED_DATA")
    if env:
        return Path(env)
    for cand in (REPO.parent / "shared" / "data", REPO / ".." / "shared" / "data"):
        if cand.is_dir():
            return cand.resolve()
    return REPO.parent / "shared" / "data"


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# --------------------------------------------------------------------------
# NER corpora


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]  # IOB1 or IOB2, types PER/ORG/LOC/MISC after mapping


@dataclass
class Doc:
    sentences: list[Sentence] = field(default_factory=list)


def _conll_docs(path: Path, token_col: int, tag_col: int, docstart: bool) -> list[Doc]:
    docs: list[Doc] = [Doc()]
    toks: list[str] = []
    tags: list[str] = []

    def flush():
        if toks:
            docs[-1].sentences.append(Sentence(list(toks), list(tags)))
            toks.clear()
            tags.clear()

    for line in read_text(path).splitlines():
        parts = line.split()
        if not parts:
            flush()
            continue
        if parts[0] == "-DOCSTART-":
            flush()
            if docstart and docs[-1].sentences:
                docs.append(Doc())
            continue
        toks.append(parts[token_col])
        tags.append(parts[tag_col])
    flush()
    return [d for d in docs if d.sentences]


def conll2003(name: str = "eng.testa") -> list[Doc]:
    p = data_root() / "ner_dev" / name
    return _conll_docs(p, 0, -1, True) if p.is_file() else []


def conll2002(name: str, sents_per_doc: int = 10) -> list[Doc]:
    """esp.testa / ned.testa. Spanish has no document marks: consecutive
    sentences are grouped into pseudo-stories of ``sents_per_doc``."""
    p = data_root() / "ner_dev" / name
    if not p.is_file():
        return []
    docs = _conll_docs(p, 0, -1, True)
    out: list[Doc] = []
    for d in docs:
        for i in range(0, len(d.sentences), sents_per_doc):
            out.append(Doc(d.sentences[i:i + sents_per_doc]))
    return out


def wikiann(lang: str, limit: int | None = None) -> list[Doc]:
    """WikiANN dev: one sentence per doc ('lang:token<TAB>tag')."""
    p = data_root() / "ner_dev" / f"wikiann_{lang}_dev.iob"
    if not p.is_file():
        return []
    docs: list[Doc] = []
    toks: list[str] = []
    tags: list[str] = []
    for line in read_text(p).splitlines() + [""]:
        if not line.strip():
            if toks:
                docs.append(Doc([Sentence(toks, tags)]))
                toks, tags = [], []
                if limit and len(docs) >= limit:
                    break
            continue
        tok, _, tag = line.rpartition("\t")
        if ":" in tok:
            tok = tok.split(":", 1)[1]
        toks.append(tok)
        tags.append(tag.strip())
    return docs


_GERMEVAL_MAP = {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "OTH": "MISC",
                 "PERderiv": "MISC", "ORGderiv": "MISC", "LOCderiv": "MISC", "OTHderiv": "MISC"}


def germeval(limit: int | None = None, sents_per_doc: int = 1) -> list[Doc]:
    """GermEval 2014 dev, outer layer; -deriv -> MISC, -part dropped (see README)."""
    p = data_root() / "ner_dev" / "NER-de-dev.tsv"
    if not p.is_file():
        return []
    sents: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    for line in read_text(p).splitlines() + [""]:
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            if toks:
                sents.append(Sentence(toks, tags))
                toks, tags = [], []
                if limit and len(sents) >= limit:
                    break
            continue
        tag = parts[2]
        if tag != "O":
            pre, typ = tag.split("-", 1)
            mapped = _GERMEVAL_MAP.get(typ)
            tag = f"{pre}-{mapped}" if mapped else "O"
        toks.append(parts[1])
        tags.append(tag)
    return [Doc(sents[i:i + sents_per_doc]) for i in range(0, len(sents), sents_per_doc)]


def spans_from_tags(tags: list[str]) -> list[tuple[int, int, str]]:
    """Entity spans [start, end) from IOB1 or IOB2 tags."""
    spans: list[tuple[int, int, str]] = []
    start, typ = None, None
    for i, tag in enumerate(tags + ["O"]):
        if tag == "O" or tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != typ):
            if start is not None:
                spans.append((start, i, typ))
                start, typ = None, None
            if tag != "O":
                start, typ = i, tag[2:]
    return spans


# --------------------------------------------------------------------------
# Language-ID corpora: (text, gold ISO 639-3 code)


def udhr(max_lines_per_file: int = 20, min_chars: int = 40) -> list[tuple[str, str, str]]:
    """(text, gold iso639-3, file) lines from the UDHR in ~360 languages."""
    root = data_root() / "udhr2_langid"
    labels = root / "LABELS.tsv"
    if not labels.is_file():
        return []
    out = []
    for row in read_text(labels).splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) < 2 or not re.fullmatch(r"[a-z]{3}", parts[1]):
            continue
        f = root / parts[0]
        if not f.is_file():
            continue
        lines = [ln.strip() for ln in read_text(f).splitlines()]
        lines = [ln for ln in lines if len(ln) >= min_chars]
        step = max(1, len(lines) // max_lines_per_file)
        for ln in lines[::step][:max_lines_per_file]:
            out.append((ln, parts[1], parts[0]))
    return out


def _strip_markup(raw: str) -> str:
    raw = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", " ", raw)
    raw = re.sub(r"(?s)<[^>]+>", " ", raw)
    raw = re.sub(r"&[#\w]+;", " ", raw)
    return " ".join(raw.split())


def _json_strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj] if len(obj) > 40 and " " in obj else []
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _json_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _json_strings(v)]
    return []


def wire_samples() -> list[tuple[str, str, str]]:
    """Crude text of each wire sample whose MANIFEST language is one code."""
    root = data_root() / "wire_agency_samples"
    man = root / "MANIFEST.tsv"
    if not man.is_file():
        return []
    from services.langdetect.iso639 import ISO1_TO_3

    out = []
    for row in read_text(man).splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) < 4 or parts[3] not in ISO1_TO_3:
            continue
        f = root / parts[1] / parts[0]
        if not f.is_file():
            continue
        raw = read_text(f)
        text = ""
        if f.suffix == ".json":
            try:
                text = " ".join(_strip_markup(s) for s in _json_strings(json.loads(raw)))
            except ValueError:
                text = _strip_markup(raw)
        else:
            text = _strip_markup(raw)
        if len(text) >= 40:
            out.append((text[:3000], ISO1_TO_3[parts[3]], parts[0]))
    return out


def seeds() -> list[Path]:
    d = data_root() / "seeds"
    return sorted(d.glob("*.txt")) if d.is_dir() else []
