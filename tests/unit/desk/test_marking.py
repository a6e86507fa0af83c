"""Entities marked at their offsets on the story page (services/desk/marking.py)."""

from __future__ import annotations

from services.desk.marking import marked_story, offset_pairs


def _texts(segments):
    return [(s.text, s.mark.label if s.mark else None) for s in segments]


def test_offsets_into_headline_and_body_mark_the_right_words():
    headline = "Nissan exec quits"
    body = "Jun Seki leaves Nissan.\n\nHe joins Nidec."
    text = f"{headline}\n\n{body}"
    entities = [
        {"text": "Nissan", "label": "ORG", "key": "nissan", "method": "model",
         "offsets": [0, 6, text.index("Nissan."), text.index("Nissan.") + 6]},  # flat, as Elasticsearch keeps them
        {"text": "Jun Seki", "label": "PERSON", "key": "jun seki", "method": "model",
         "offsets": [[text.index("Jun"), text.index("Jun") + 8]]},  # pairs, as the envelope has them
    ]
    head, paragraphs = marked_story(headline, body, entities)
    assert _texts(head) == [("Nissan", "ORG"), (" exec quits", None)]
    assert _texts(paragraphs[0]) == [("Jun Seki", "PERSON"), (" leaves ", None), ("Nissan", "ORG"), (".", None)]
    assert _texts(paragraphs[1]) == [("He joins Nidec.", None)]


def test_bad_offsets_are_skipped_and_overlaps_keep_the_longer_mention():
    body = "Boulogne-Billancourt is near Paris."
    entities = [
        {"text": "x", "label": "LOC", "offsets": [-1, 3, 30, 999, 5, 5]},  # out of range, empty
        {"text": "Boulogne", "label": "LOC", "offsets": [0, 8]},
        {"text": "Boulogne-Billancourt", "label": "LOC", "offsets": [0, 20]},
    ]
    head, paragraphs = marked_story("", body, entities)
    assert head == []
    assert _texts(paragraphs[0]) == [("Boulogne-Billancourt", "LOC"), (" is near Paris.", None)]


def test_segments_put_together_give_back_the_text():
    headline, body = "A <b>bold</b> claim", "First & second.\n\nThird <script>x</script>."
    text = f"{headline}\n\n{body}"
    entities = [{"text": "<script>", "label": "MISC", "offsets": [text.index("<script>"), text.index("<script>") + 8]}]
    head, paragraphs = marked_story(headline, body, entities)
    assert "".join(s.text for s in head) == headline
    assert "\n\n".join("".join(s.text for s in p) for p in paragraphs) == body


def test_offset_pairs_reads_both_shapes():
    assert offset_pairs([1, 2, 3, 4]) == [(1, 2), (3, 4)]
    assert offset_pairs([[1, 2], [3, 4]]) == [(1, 2), (3, 4)]
    assert offset_pairs(None) == []
