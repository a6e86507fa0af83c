"""Long stories: NER in chunks with offsets mapped back (spaCy's E088 above 1,000,000
characters killed them), and an entity list capped for Elasticsearch (issue 9 item 2)."""

from __future__ import annotations

from shared.contract import Story
from shared.limits import MAX_ENTITIES_PER_STORY, MAX_OFFSETS_PER_ENTITY
from services.extract.nlp import chunks
from services.extract.nlp.chunks import Chunk, ChunkMerger, chunk_text
from services.extract.nlp.normalize import canonical_key


def _assert_chunks_tile(text: str, got: list[Chunk], max_chars: int) -> None:
    assert got[0].own_start == 0 and got[-1].own_end == len(text)
    for before, after in zip(got, got[1:]):
        assert before.own_end == after.own_start
    for chunk in got:
        assert len(chunk.text) <= max_chars
        assert chunk.start <= chunk.own_start < chunk.own_end <= chunk.start + len(chunk.text)
        assert text[chunk.start:chunk.start + len(chunk.text)] == chunk.text


def test_a_story_within_the_chunk_size_is_one_chunk():
    assert chunk_text("Short story.\n\nTwo paragraphs.", max_chars=100, context=10) == [
        Chunk(0, "Short story.\n\nTwo paragraphs.", 0, 29)]


def test_chunks_end_at_paragraph_breaks_first_then_line_breaks():
    text = "\n\n".join(f"Paragraph {i} line one.\nParagraph {i} line two." for i in range(200))
    got = chunk_text(text, max_chars=1000, context=100)
    _assert_chunks_tile(text, got, 1000)
    assert len(got) > 5
    for chunk in got[1:]:
        assert text[chunk.own_start - 2:chunk.own_start] == "\n\n"  # a paragraph break, no context needed
        assert chunk.start == chunk.own_start
    one_paragraph = "\n".join(f"Line {i} of one long paragraph." for i in range(200))
    got = chunk_text(one_paragraph, max_chars=1000, context=100)
    _assert_chunks_tile(one_paragraph, got, 1000)
    assert all(one_paragraph[c.own_start - 1] == "\n" and c.start == c.own_start for c in got[1:])


def test_a_single_long_line_is_cut_at_spaces_with_context_on_both_sides():
    line = " ".join(f"word{i}" for i in range(2000))
    got = chunk_text(line, max_chars=1000, context=100)
    _assert_chunks_tile(line, got, 1000)
    for chunk in got[1:]:
        assert line[chunk.own_start - 1] == " "
        assert chunk.start == chunk.own_start - 100  # the model sees what comes before the cut
    assert all(c.start + len(c.text) == c.own_end + 100 for c in got[:-1])
    no_spaces = "x" * 5000
    _assert_chunks_tile(no_spaces, chunk_text(no_spaces, max_chars=1000, context=100), 1000)


def test_an_entity_across_a_cut_is_kept_once_by_the_chunk_it_starts_in():
    text = "a " * 600
    first, second = chunk_text(text, max_chars=1000, context=100)
    cut = first.own_end
    merger = ChunkMerger()
    # Seen by the first chunk across the cut, and again (from its context) by the second.
    whole = merger.keep(0, first, cut - 4 - first.start, cut + 6 - first.start)
    assert whole == (cut - 4, cut + 6)
    assert merger.keep(0, second, cut - 4 - second.start, cut + 6 - second.start) is None
    # The second chunk read its tail alone: it starts after the cut, but inside the kept entity.
    assert merger.keep(0, second, cut + 2 - second.start, cut + 6 - second.start) is None
    assert merger.keep(0, second, cut + 10 - second.start, cut + 14 - second.start) == (cut + 10, cut + 14)


def _check_offsets_capped(story: Story) -> None:
    text = story.text
    for entity in story.entities:
        assert len(entity.offsets) == min(entity.count, MAX_OFFSETS_PER_ENTITY)  # the count stays exact
        for start, end in entity.offsets:
            assert 0 <= start < end <= len(text)
            piece = text[start:end]
            assert "\n" not in piece
            if entity.value is None:
                assert piece == entity.text or canonical_key(piece) in (
                    entity.key, canonical_key(entity.text.split()[-1])), (entity.text, piece)


def test_a_story_over_spacys_max_length_is_enriched_in_chunks(enricher):
    # 1.2 million characters (spaCy stops at 1,000,000 with E088). The padding keeps
    # the token count, and so the test's time, modest; it is text like any other.
    padding = " " * 200
    paragraphs = [f"Angela Merkel met Emmanuel Macron in Paris on Monday.{padding}Shares of Renault rose "
                  f"{i % 90}.5 percent in Tokyo.{padding}" for i in range(2600)]
    story = Story(id="long", headline="Long read", body="\n\n".join(paragraphs), language="en")
    assert len(story.text) > 1_200_000
    nlp = enricher.nlp("en")
    assert len(story.text) > nlp.max_length
    [out] = enricher.enrich([story])
    _check_offsets_capped(out)
    by_text = {e.text: e for e in out.entities}
    assert by_text["Angela Merkel"].label == "PERSON" and by_text["Angela Merkel"].method == "model"
    merkel = by_text["Angela Merkel"]
    assert merkel.count == 2600  # every paragraph, beyond the first chunks too: the count stays exact ...
    assert len(merkel.offsets) == MAX_OFFSETS_PER_ENTITY  # ... when the offsets are cut
    assert by_text["Tokyo"].count == 2600
    assert out.entities_truncated


def test_chunked_ner_finds_what_one_pass_finds(enricher, monkeypatch):
    sentences = [
        "Angela Merkel met Emmanuel Macron in Paris on Monday.",
        "The Bank of England held interest rates at 5.25 percent, Andrew Bailey said in London.",
        "Toyota Motor Corp sold 2.3 million cars in Japan last year, the company said.",
        "Jun Seki will join Nidec as president, the Kyoto-based manufacturer said on Tuesday.",
        "Barcelona beat Real Madrid 3-1 at the Camp Nou on Saturday.",
    ]
    # One long line (cut at spaces, with context) and short paragraphs (cut at breaks).
    for body in (" ".join(sentences * 40), "\n\n".join(sentences * 40)):
        story = Story(id="c", headline="News in brief", body=body, language="en")
        [whole] = enricher.enrich([story])
        monkeypatch.setattr(chunks, "NER_CHUNK_CHARS", 1500)
        monkeypatch.setattr(chunks, "CHUNK_CONTEXT_CHARS", 200)
        assert len(chunk_text(story.text)) > 5
        [chunked] = enricher.enrich([story])
        monkeypatch.undo()

        def names(s: Story):
            return {(e.text, e.label, e.count) for e in s.entities}

        assert names(chunked) == names(whole)


def test_a_story_of_12000_percentages_keeps_1000_entities_and_its_names(enricher):
    body = " ".join(f"{i / 10:.1f}%" for i in range(12000))
    body += "\n\nAngela Merkel said so in Berlin. Angela Merkel left."
    [out] = enricher.enrich([Story(id="pct", headline="Poll results", body=body, language="en")])
    assert len(out.entities) == MAX_ENTITIES_PER_STORY
    assert out.entities_truncated
    kept = {e.text for e in out.entities}
    assert {"Angela Merkel", "Berlin"} <= kept  # names first, though they come last
    starts = [e.offsets[0] for e in out.entities]
    assert starts == sorted(starts)  # still in story order
    _check_offsets_capped(out)


def test_an_ordinary_story_is_not_flagged(enricher):
    [out] = enricher.enrich([Story(id="o", body="Angela Merkel met Emmanuel Macron in Paris.", language="en")])
    assert out.entities and not out.entities_truncated


def test_a_long_story_without_a_model_is_matched_and_capped(enricher):
    body = "\n".join("Carlos Ghosn sprach in Deutschland über 3,2 Prozent." for _ in range(5000))
    enricher.gazetteer.learn("Carlos Ghosn", "PERSON")
    [out] = enricher.enrich([Story(id="de", body=body, language="de")])
    by_text = {e.text: e for e in out.entities}
    assert by_text["Carlos Ghosn"].count == 5000 and len(by_text["Carlos Ghosn"].offsets) == MAX_OFFSETS_PER_ENTITY
    assert out.entities_truncated


def test_span_index_answers_as_the_scan_it_replaces():
    import random

    from services.extract.nlp import _Spans

    rng = random.Random(7)
    for _ in range(200):
        spans = [(a, a + rng.randint(1, 12)) for a in (rng.randint(0, 200) for _ in range(rng.randint(0, 15)))]
        index = _Spans(spans)
        for _ in range(20):
            s = rng.randint(0, 210)
            e = s + rng.randint(1, 12)
            assert index.overlaps(s, e) == any(a < e and s < b for a, b in spans)
            assert index.contains(s, e) == any(a <= s and e <= b for a, b in spans)
