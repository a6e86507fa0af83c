"""The names matcher: its semantics, and work per story and per name bounded
whatever the number of names (issue 9 item 9)."""

from __future__ import annotations

from services.extract.nlp import gazetteer
from services.extract.nlp.gazetteer import MAX_NAME_TOKENS, Gazetteer


def _found(g: Gazetteer, text: str) -> list[tuple[str, str, str]]:
    return [(m.text, m.label, m.method) for m in g.find(text, 0)]


def test_longest_match_first_on_whole_case_sensitive_tokens():
    g = Gazetteer(data_dir=None)
    for name, label in [("New York", "LOC"), ("New York Times", "ORG"), ("York", "LOC"), ("Turkey", "LOC")]:
        assert g.add(name, label)
    assert _found(g, "The New York Times said New York and York.") == [
        ("New York Times", "ORG", "gazetteer"), ("New York", "LOC", "gazetteer"), ("York", "LOC", "gazetteer")]
    assert _found(g, "Yorkshire roast turkey, New Yorker") == []  # whole tokens, case-sensitive


def test_offsets_are_shifted_into_the_story():
    g = Gazetteer(data_dir=None)
    g.add("Carlos Ghosn", "PERSON")
    [m] = g.find("Hier sprach Carlos Ghosn.", 100)
    assert (m.start, m.end, m.text) == (112, 124, "Carlos Ghosn")


def test_a_known_name_keeps_its_first_label_and_source_and_learning_is_bounded(monkeypatch):
    g = Gazetteer(data_dir=None)
    assert g.add("Berlin", "LOC")
    g.learn("Berlin", "ORG")  # known from a shipped list: stays a gazetteer LOC
    assert g.learned == 0 and _found(g, "Berlin") == [("Berlin", "LOC", "gazetteer")]
    assert not g.add("lowercase only", "ORG")
    monkeypatch.setattr(gazetteer, "MAX_LEARNED", 2)
    for name in ("Ann Lee", "Bo Chan", "Cy Twombly"):
        g.learn(name, "PERSON")
    assert g.learned == 2 and len(g) == 3
    assert _found(g, "Ann Lee met Bo Chan and Cy Twombly.") == [
        ("Ann Lee", "PERSON", "learned"), ("Bo Chan", "PERSON", "learned")]


def test_the_shipped_lists_still_match():
    g = Gazetteer()
    assert len(g) > 3000
    assert ("Deutschland", "LOC", "gazetteer") in _found(g, "Er lebt in Deutschland.")


def _worst_case(names: int) -> tuple[Gazetteer, str]:
    """Every name shares its longest possible prefix with every other one, and the
    story repeats that prefix: each token starts a walk no name completes."""
    g = Gazetteer(data_dir=None)
    prefix = ["Saint"] * (MAX_NAME_TOKENS - 1)
    for i in range(names):
        g.learn(" ".join(prefix + [f"Name{i}"]), "PERSON")
    return g, " ".join(["Saint"] * 2000)


def test_matching_work_per_token_is_bounded_by_name_length_not_by_name_count():
    small, story = _worst_case(10)
    large, _ = _worst_case(5000)
    assert len(large) == 5000
    assert small.find(story, 0) == [] and large.find(story, 0) == []
    tokens = 2000
    # One trie step per token of a name at most (+1 for the step that fails), however many names.
    assert large.last_find_steps <= tokens * (MAX_NAME_TOKENS + 1)
    assert large.last_find_steps == small.last_find_steps


def test_a_name_longer_than_the_bound_is_not_kept():
    g = Gazetteer(data_dir=None)
    assert not g.add(" ".join(["Very"] * (MAX_NAME_TOKENS + 1)), "ORG")
    assert len(g) == 0


def test_an_extra_names_file_is_matched_like_the_shipped_lists(tmp_path):
    """Issue 11 item 5: WIRESTREAM_EXTRA_NAMES, the operator's own list (and the reenrich test's changed rule)."""
    extra = tmp_path / "house.tsv"
    extra.write_text("# house names\nORG\tQuorvex Holding\n", encoding="utf-8")
    assert Gazetteer().find("Die Quorvex Holding meldet Gewinn", 0) == []
    found = Gazetteer(extra_files=(extra,)).find("Die Quorvex Holding meldet Gewinn", 0)
    assert [(m.text, m.label) for m in found] == [("Quorvex Holding", "ORG")]


def test_a_missing_extra_names_file_fails_at_start_naming_the_setting(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="WIRESTREAM_EXTRA_NAMES"):
        Gazetteer(extra_files=(tmp_path / "nope.tsv",))
