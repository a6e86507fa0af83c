"""Extract never produces a record the broker would refuse (issue 9 item 5), and the
entity caps keep the names that matter (issue 9 item 2). Pure functions, no models."""

from __future__ import annotations

import pickle

from shared.contract import Entity, Story
from shared.messages import encode_story
from shared.runner import Rejected
from shared.runner.chain import Decoded, InRecord, collect_results, process_and_encode
from services.extract.nlp.fit import RECORD_TOO_LARGE, cap_entities, fit_record, survival_rank


def _entity(text: str, label: str, count: int, first: int, value: str | None = None) -> Entity:
    offsets = [(first + 10 * k, first + 10 * k + len(text)) for k in range(count)]
    return Entity(text=text, label=label, key=text.lower(), count=count, offsets=offsets,
                  method="rule" if value else "model", value=value)


def _story(entities: list[Entity], body: str = "Some text.") -> Story:
    return Story(id="s", headline="Headline", body=body, language="en", entities=entities)


def _size(story: Story) -> int:
    return len(encode_story(story).value)


def test_names_outrank_values_and_more_mentions_outrank_fewer():
    pct = _entity("3%", "PERCENT", 9, 0, "3%")
    merkel = _entity("Angela Merkel", "PERSON", 3, 50)
    paris = _entity("Paris", "LOC", 1, 20)
    berlin = _entity("Berlin", "LOC", 1, 5)
    assert sorted([pct, paris, merkel, berlin], key=survival_rank) == [merkel, berlin, paris, pct]


def test_cap_keeps_the_top_entities_in_story_order_and_cuts_offsets_keeping_counts():
    values = [_entity(f"{i}%", "PERCENT", 1, 1000 + 10 * i, f"{i}%") for i in range(20)]
    names = [_entity("Renault", "ORG", 150, 3), _entity("Paris", "LOC", 2, 7)]
    kept, truncated = cap_entities(values + names, max_entities=5, max_offsets=100)
    assert truncated
    assert [e.text for e in kept] == ["Renault", "Paris", "0%", "1%", "2%"]  # story order
    renault = kept[0]
    assert renault.count == 150 and len(renault.offsets) == 100
    assert renault.offsets == names[0].offsets[:100]  # the first mentions
    small = [_entity("Paris", "LOC", 2, 7)]
    assert cap_entities(small, max_entities=5, max_offsets=100) == (small, False)


def test_a_record_that_fits_is_left_alone():
    story = _story([_entity("Paris", "LOC", 2, 7)])
    assert fit_record(story, _size(story)) is story


def test_an_oversize_record_drops_values_and_least_mentioned_entities_until_it_fits():
    names = [_entity("Angela Merkel", "PERSON", 40, 100), _entity("Paris", "LOC", 5, 30)]
    values = [_entity(f"{i}.5 percent", "PERCENT", 1 + i % 3, 2000 + 50 * i, f"{i}.5%") for i in range(400)]
    story = _story(names + values, body="x" * 5000)
    bare = _size(story.model_copy(update={"entities": [], "entities_truncated": True}))
    limit = bare + (_size(story) - bare) // 3
    fitted = fit_record(story, limit)
    assert isinstance(fitted, Story)
    assert fitted.entities_truncated and _size(fitted) <= limit
    kept = fitted.entities
    assert names[0] in kept and names[1] in kept
    ranked = sorted(story.entities, key=survival_rank)
    assert kept == sorted(ranked[:len(kept)], key=lambda e: e.offsets[0])  # a prefix of the ranking ...
    one_more = story.model_copy(update={"entities": ranked[:len(kept) + 1], "entities_truncated": True})
    assert _size(one_more) > limit  # ... and the longest that fits
    assert fitted.body == story.body and fitted.id == story.id


def test_a_story_too_large_without_any_entity_is_rejected_with_the_sizes():
    story = _story([_entity("Paris", "LOC", 2, 7)], body="x" * 5000)
    bare = _size(story.model_copy(update={"entities": [], "entities_truncated": True}))
    result = fit_record(story, bare - 1)
    assert isinstance(result, Rejected) and result.reason_class == RECORD_TOO_LARGE
    assert str(bare) in result.reason and str(bare - 1) in result.reason and str(_size(story)) in result.reason
    assert isinstance(fit_record(story, bare), Story)  # exactly the bare size fits


def test_number_heavy_story_grows_past_the_limit_and_the_stage_dead_letters_or_fits(monkeypatch):
    """Through the runner's own chain: what the worker returns is encoded records within the
    limit or a rejection that becomes a dead letter, never a record the broker would refuse."""
    from services.extract import service

    class FakeEnricher:  # what the real one does to number-heavy text: many entities
        def __init__(self, batch_size, extra_names=None):
            pass

        def nlp(self, lang):  # the preloaded model: not needed to make entities here
            return None

        def enrich(self, stories):
            return [s.model_copy(update={"entities": [
                _entity(f"{i}%", "PERCENT", 1, 10 * i, f"{i}%") for i in range(len(s.body) // 4)]})
                for s in stories]

    monkeypatch.setattr(service, "Enricher", FakeEnricher)
    limit = 20_000
    stage = service.build_stage(service.ExtractSettings(), limit)
    make_process = pickle.loads(pickle.dumps(stage.make_process))  # the worker process gets it pickled
    process = make_process()
    grows = Story(id="grows", body="1% " * 2000)  # 6 KB of text, far more once enriched
    huge = Story(id="huge", body="y" * 30_000)  # over the limit before any entity
    small = Story(id="small", body="Fine.")
    results = process_and_encode(process, [grows, huge, small])
    assert [type(r).__name__ for r in results] == ["OutRecord", "Rejected", "OutRecord"]
    assert all(len(r.value) <= limit for r in results if not isinstance(r, Rejected))
    assert Story.from_json(results[0].value).entities_truncated
    assert not Story.from_json(results[2].value).entities_truncated
    records = [InRecord("news.detected", 0, n, s.id.encode(), s.to_json(), []) for n, s in enumerate([grows, huge, small])]
    output = collect_results("extract", Decoded(records, [grows, huge, small], []), results)
    assert len(output.forward) == 2 and len(output.dead) == 1
    assert b"record_too_large" in output.dead[0].value
