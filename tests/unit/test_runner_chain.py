import json

import pytest

from shared.contract import Story
from shared.messages import decode_story, encode_story
from shared.runner import Rejected, process_isolating_failures
from shared.runner.chain import InRecord, transform_batch
from shared.runner.invalid_ratio import InvalidRatioGuard


def _record(offset: int, value: bytes, headers=None) -> InRecord:
    return InRecord(topic="news.raw", partition=2, offset=offset, key=b"k%d" % offset, value=value,
                    headers=headers if headers is not None else [("schema-version", b"1")])


def _story(n: int, **extra) -> Story:
    return Story(id=f"s{n}", headline=f"Headline {n}", body="Body.", **extra)


def test_encode_then_decode_keeps_story_and_key():
    story = _story(1)
    out = encode_story(story)
    assert out.key == b"s1"
    assert ("schema-version", b"1") in out.headers
    assert decode_story(out.value, out.headers) == story


def test_transform_forwards_processed_and_dead_letters_undecodable():
    def detect(stories):
        return [s.model_copy(update={"language": "en"}) for s in stories]

    records = [_record(0, encode_story(_story(0)).value), _record(1, b"{not json"),
               _record(2, encode_story(_story(2)).value, headers=[("schema-version", b"99")])]
    output = transform_batch("t", detect, records, InvalidRatioGuard(1.0, 10))
    assert [json.loads(r.value)["language"] for r in output.forward] == ["en"]
    letters = [json.loads(r.value) for r in output.dead]
    assert [(d["origin"]["offset"], d["reason_class"]) for d in letters] == [(1, "undecodable"), (2, "schema_ahead")]
    assert letters[0]["origin"] == {"topic": "news.raw", "partition": 2, "offset": 1, "key": "k1"}
    assert letters[0]["payload"] == {"encoding": "utf-8", "data": "{not json"}
    assert "schema-version" in letters[1]["reason"]


def test_a_poison_story_is_isolated_and_the_rest_still_processed():
    def process(stories):
        if any(s.headline == "poison" for s in stories):
            raise ValueError("boom")
        return [s.model_copy(update={"language": "fr"}) for s in stories]

    stories = [_story(1), Story(id="p", headline="poison"), _story(3)]
    results = process_isolating_failures(process, stories)
    assert [r.language if isinstance(r, Story) else r.reason_class for r in results] == ["fr", "processing_error", "fr"]
    assert "boom" in results[1].reason


def test_stage_rejections_become_dead_letters_with_the_story_id():
    def refuse(stories):
        return [Rejected("too_long", "over limit") for _ in stories]

    output = transform_batch("x", refuse, [_record(5, encode_story(_story(9)).value)], InvalidRatioGuard(1.0, 10))
    assert output.forward == []
    letter = json.loads(output.dead[0].value)
    assert (letter["story_id"], letter["reason_class"], letter["service"]) == ("s9", "too_long", "x")


def test_invalid_ratio_guard_trips_only_past_the_limit_and_says_it_in_counts():
    guard = InvalidRatioGuard(max_ratio=0.5, window=10)
    for _ in range(5):
        guard.record(invalid=False)
    for _ in range(5):
        guard.record(invalid=True)  # 50 % of the window: still allowed
    assert not guard.tripped
    guard.record(invalid=True)  # 6 of the last 10
    assert guard.tripped
    assert guard.describe().startswith("6 of the last 10 records were invalid (60.0%, limit 50.0%)")


def test_an_unknown_but_not_newer_schema_header_is_junk():
    records = [_record(0, encode_story(_story(0)).value, headers=[("schema-version", b"abc")])]
    output = transform_batch("t", lambda s: s, records, InvalidRatioGuard(1.0, 10))
    assert json.loads(output.dead[0].value)["reason_class"] == "undecodable"


def test_the_worker_process_returns_encoded_records_the_host_forwards_as_they_are():
    from shared.messages import OutRecord
    from shared.runner import worker_process
    from shared.runner.chain import Decoded, collect_results

    def detect():
        def process(stories):
            if any(s.headline == "poison" for s in stories):
                raise ValueError("boom")
            return [s.model_copy(update={"language": "en"}) for s in stories]
        return process

    worker_process.initialize(detect)
    stories = [_story(1), Story(id="p", headline="poison")]
    results = worker_process.run(stories)
    assert isinstance(results[0], OutRecord) and isinstance(results[1], Rejected)
    records = [_record(i, encode_story(s).value) for i, s in enumerate(stories)]
    output = collect_results("t", Decoded(records, stories, []), results)
    assert [decode_story(r.value, r.headers).language for r in output.forward] == ["en"]
    assert [json.loads(r.value)["reason_class"] for r in output.dead] == ["processing_error"]
