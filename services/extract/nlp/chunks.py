"""Cutting a long story into pieces NER can read, and mapping entities back.

spaCy refuses a text longer than ``nlp.max_length`` (1,000,000 characters; error
E088) and needs memory in proportion to the text it reads at once. A story
longer than ``NER_CHUNK_CHARS`` is read in chunks:

* a chunk ends at a paragraph break when there is one in the second half of
  its window, else at a line break, else at a space, else anywhere;
* lines are separate for NER anyway (an entity running across a line break is
  cut there), so a cut at a line break loses nothing and needs no context;
* a cut inside a line gives both neighbouring chunks ``CHUNK_CONTEXT_CHARS`` of
  the other side to read, and each chunk keeps only the entities that start in
  its own part of the text (and not inside an entity the chunk before kept), so
  an entity across the cut is found once, whole, by the chunk it starts in.

Every chunk carries its start offset, so entity offsets are story offsets.
Stories up to ``NER_CHUNK_CHARS`` are one chunk: NER reads them exactly as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Far below spaCy's max_length. NER's memory follows the text of a whole nlp.pipe
# batch: a 1.2M-character story peaked at 770 MB RSS in 100k chunks, 315 MB in 25k,
# 212 MB in 10k (batch of 8, same entities, same time). Wire stories are mostly
# shorter (the eval sets' longest is 6k), and a cut at a line break costs nothing.
NER_CHUNK_CHARS = 10_000
CHUNK_CONTEXT_CHARS = 300

_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Chunk:
    start: int  # offset of `text` in the story text
    text: str
    own_start: int  # entities starting in [own_start, own_end) of the story text are this chunk's
    own_end: int

    def owns(self, story_start: int) -> bool:
        return self.own_start <= story_start < self.own_end


def _cut(text: str, lo: int, hi: int) -> tuple[int, bool]:
    """Where to end the part of text[lo:] that starts at lo and must end by hi:
    (cut, clean), clean when the cut follows a line break."""
    floor = lo + (hi - lo) // 2  # never a tiny chunk for a break near its start
    for sep in ("\n\n", "\n"):
        at = text.rfind(sep, floor, hi)
        if at >= 0:
            return at + len(sep), True
    for at in range(hi - 1, floor - 1, -1):  # the last whitespace of any kind in the window
        if _SPACE.match(text, at):
            return at + 1, False
    return hi, False


def chunk_text(text: str, max_chars: int | None = None, context: int | None = None) -> list[Chunk]:
    """The chunks NER reads for one story's text, none longer than max_chars
    (default NER_CHUNK_CHARS, context CHUNK_CONTEXT_CHARS)."""
    max_chars = NER_CHUNK_CHARS if max_chars is None else max_chars
    context = CHUNK_CONTEXT_CHARS if context is None else context
    if len(text) <= max_chars:
        return [Chunk(0, text, 0, len(text))]
    if max_chars <= 4 * context:
        raise ValueError(f"max_chars ({max_chars}) must exceed four times the context ({context})")
    own_max = max_chars - 2 * context  # room for context on both sides
    # Owned parts: [cuts[k], cuts[k+1]); clean[k] says whether the cut at cuts[k] is at a line break.
    cuts, clean = [0], [True]
    while len(text) - cuts[-1] > own_max:
        cut, is_clean = _cut(text, cuts[-1], cuts[-1] + own_max)
        cuts.append(cut)
        clean.append(is_clean)
    cuts.append(len(text))
    clean.append(True)
    chunks = []
    for k in range(len(cuts) - 1):
        own_start, own_end = cuts[k], cuts[k + 1]
        start = own_start if clean[k] else max(0, own_start - context)
        end = own_end if clean[k + 1] else min(len(text), own_end + context)
        chunks.append(Chunk(start, text[start:end], own_start, own_end))
    return chunks


class ChunkMerger:
    """Keeps, per story, the entities of its chunks (fed in order) that belong to
    the chunk they were found in and do not overlap one already kept."""

    def __init__(self) -> None:
        self._kept_until: dict[int, int] = {}

    def keep(self, story: int, chunk: Chunk, start_in_chunk: int, end_in_chunk: int) -> tuple[int, int] | None:
        """Story offsets of the entity, or None when it belongs to a neighbouring chunk."""
        start, end = chunk.start + start_in_chunk, chunk.start + end_in_chunk
        if not chunk.owns(start) or start < self._kept_until.get(story, 0):
            return None
        self._kept_until[story] = end
        return start, end
