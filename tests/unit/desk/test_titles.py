"""The derived title for stories without a headline (services/desk/titles.py)."""

from __future__ import annotations

import pytest

from services.desk.titles import UNTITLED, Title, first_sentence, shorten, story_title


def test_a_headline_is_the_title_and_not_derived():
    assert story_title("  Nissan  exec to resign ", "Body.") == Title("Nissan exec to resign", False)


def test_no_headline_takes_the_first_sentence_of_the_lede_after_a_dateline_paragraph():
    body = ("Tokyo (AFP)\n\nNew coup at Nissan: Jun Seki will resign, the group said. "
            "He joins Nidec.\n\nMore text.")
    title = story_title("", body)
    assert title.derived
    assert title.text == "New coup at Nissan: Jun Seki will resign, the group said."


def test_a_dateline_opening_the_lede_is_cut_off():
    title = story_title(None, "WASHINGTON, March 3 (Reuters) - The U.S. economy grew 2.1 pct. Analysts said.")
    assert title.text == "The U.S. economy grew 2.1 pct."


@pytest.mark.parametrize("text, sentence", [
    ("Mr. Seki said so. Then more.", "Mr. Seki said so."),
    ("M. Macron a parlé. Puis.", "M. Macron a parlé."),
    ("Jun J. Seki resigned. Nissan confirmed.", "Jun J. Seki resigned."),
    ('He said "no." Then left.', 'He said "no."'),
    ("No full stop at all", "No full stop at all"),
    ("Prices rose 2.5 percent. Then fell.", "Prices rose 2.5 percent."),
])
def test_first_sentence_skips_abbreviations_and_initials(text, sentence):
    assert first_sentence(text) == sentence


def test_a_long_sentence_is_shortened_at_a_word_boundary():
    text = "word " * 60
    short = shorten(text.strip(), 50)
    assert len(short) <= 50 and short.endswith("…") and not short[:-1].endswith(" ")
    assert short[:-1].split() == ["word"] * len(short[:-1].split())


def test_no_text_at_all_is_an_untitled_story_marked_derived():
    assert story_title("", "") == Title(UNTITLED, True)
    assert story_title("  ", "Tokyo (AFP)\n\n") == Title(UNTITLED, True)


def test_the_seed_stories_get_their_lede_as_title(seeds_dir):
    for path in sorted(seeds_dir.glob("*.txt")):
        from services.ingest.formats import parse_bytes

        story = parse_bytes(path.read_bytes(), content_type="text/plain; charset=utf-8", max_bytes=5_000_000).stories[0]
        assert story.headline == ""  # what makes the derived title necessary
        title = story_title(story.headline, story.body)
        assert title.derived and title.text[0].isupper() and len(title.text) <= 140
        assert not title.text.startswith(("Tokyo (AFP)", "date 2019"))
