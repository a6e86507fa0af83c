"""TransformHost (langdetect's and extract's per-batch logic) without faust or Kafka:
what is forwarded, dead-lettered, held or retried, by failure class."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from shared.contract import Story
from shared.messages import encode_story
from shared.observability import Health
from shared.runner import faust_host
from shared.runner.chain import Decoded, InRecord
from shared.runner.faust_host import InFlight, TransformHost
from shared.runner.stage import PROCESSING_ERROR, Rejected, TransformStage
from shared.settings import ExtractSettings


def _host(monkeypatch, max_value_bytes=1_000_000, **settings) -> TransformHost:
    async def no_sleep(_):
        return None

    monkeypatch.setattr(faust_host.asyncio, "sleep", no_sleep)
    stage = TransformStage(name="extract", source_topic="news.detected", sink_topic="news.enriched",
                           make_process=lambda: None)
    return TransformHost(stage, ExtractSettings(**settings), Health("extract"), worker=None,
                         max_value_bytes=max_value_bytes)


def _batch(n: int) -> InFlight:
    stories = [Story(id=f"s{i}", headline=f"H{i}", body="B") for i in range(n)]
    records = [InRecord("news.detected", 0, i, s.id.encode(), encode_story(s).value, []) for i, s in enumerate(stories)]
    return InFlight(events=[], decoded=Decoded(records, stories, []), results=None, started=time.perf_counter())


def _done(value) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def test_a_stage_failing_on_every_story_is_held_and_retried_not_dead_lettered(monkeypatch):
    """Issue 9 item 4: a stage bug that raises on every story must not drain the topic."""
    host = _host(monkeypatch, systemic_after_failures=5)
    batch = _batch(8)
    failing = [Rejected(PROCESSING_ERROR, "KeyError: 'x'") for _ in range(8)]
    fixed = [encode_story(s) for s in batch.decoded.stories]
    submitted = []

    async def scenario():
        batch.results = _done(failing)
        answers = iter([fixed])
        host.submit = lambda stories: (submitted.append(len(stories)) or _done(next(answers)), 0)
        return await host.results_held_until_not_systemic(batch)

    results = asyncio.run(scenario())
    assert results == fixed, "processed again until the stage works"
    assert submitted == [8]
    assert host.backoff.attempts == 1


def test_one_poison_story_among_good_ones_is_an_item_failure(monkeypatch):
    host = _host(monkeypatch, systemic_after_failures=5)
    batch = _batch(3)
    results = [encode_story(batch.decoded.stories[0]), Rejected(PROCESSING_ERROR, "ValueError"),
               encode_story(batch.decoded.stories[2])]

    async def scenario():
        batch.results = _done(results)
        return await host.results_held_until_not_systemic(batch)

    assert asyncio.run(scenario()) == results
    forward, dead = host.outputs(batch, results)
    assert [origin.offset for origin, _ in forward] == [0, 2]
    assert json.loads(dead[0].value)["reason_class"] == PROCESSING_ERROR


def test_giving_up_on_a_systemic_failure_exits(monkeypatch):
    exits = []
    monkeypatch.setattr(faust_host, "exit_now", lambda code, reason: exits.append(reason) or (_ for _ in ()).throw(SystemExit))
    host = _host(monkeypatch, systemic_after_failures=2, downstream_give_up_s=1)
    host.backoff._clock = iter([0.0, 5.0, 5.0, 5.0]).__next__
    batch = _batch(4)
    failing = [Rejected(PROCESSING_ERROR, "KeyError") for _ in range(4)]

    async def scenario():
        batch.results = _done(failing)
        host.submit = lambda stories: (_done(failing), 0)
        await host.results_held_until_not_systemic(batch)

    with pytest.raises(SystemExit):
        asyncio.run(scenario())
    assert "stage fails on every story" in exits[0]


def test_a_result_too_large_for_the_broker_is_dead_lettered(monkeypatch):
    """Issue 9 item 5: it made send raise and every replica crash-loop."""
    host = _host(monkeypatch, max_value_bytes=2000)
    batch = _batch(2)
    big = batch.decoded.stories[1].model_copy(update={"body": "9 " * 2000})
    results = [encode_story(batch.decoded.stories[0]), encode_story(big)]
    forward, dead = host.outputs(batch, results)
    assert len(forward) == 1
    letter = json.loads(dead[0].value)
    assert letter["reason_class"] == "record_too_large" and letter["origin"]["offset"] == 1
    assert "2000" in letter["reason"]


class MessageSizeTooLargeError(Exception):
    pass


class KafkaTimeoutError(Exception):
    pass


class FakeTopic:
    """faust's Topic.send: returns a future that resolves on the broker's answer."""

    def __init__(self, name, fail):
        self.name, self.fail, self.sent = name, fail, []

    async def send(self, key, value, headers):
        self.sent.append(value)
        future = asyncio.get_running_loop().create_future()
        error = self.fail(value)
        if error:
            future.set_exception(error)
        else:
            future.set_result("ok")
        return future


def test_kafka_refusing_one_record_for_its_size_dead_letters_it_and_retries_a_timeout(monkeypatch):
    host = _host(monkeypatch)
    batch = _batch(3)
    timeouts = {"left": 1}

    def sink_fail(value):
        if b'"s1"' in value:
            return MessageSizeTooLargeError("broker says too large")
        if b'"s2"' in value and timeouts["left"]:
            timeouts["left"] -= 1
            return KafkaTimeoutError("no ack in time")
        return None

    sink, dead_topic = FakeTopic("news.enriched", sink_fail), FakeTopic("news.deadletter", lambda v: None)
    results = [encode_story(s) for s in batch.decoded.stories]
    forward, dead = host.outputs(batch, results)
    asyncio.run(host.send_all(sink, dead_topic, forward, dead))
    letters = [json.loads(v) for v in dead_topic.sent]
    assert [(d["reason_class"], d["origin"]["offset"]) for d in letters] == [("kafka_refused", 1)]
    assert sum(b'"s2"' in v for v in sink.sent) == 2, "the timed-out send was retried"
    assert host.backoff.attempts == 0 and "downstream" not in host.health.readiness()[1]["reasons"]


def test_the_stage_deadline_grows_with_the_text_of_the_batch(monkeypatch):
    """A 64-story batch of ordinary stories gets stage_deadline_s; three ~900 KB stories
    (NER takes ~40 s each) get one deadline per started 250 KB."""
    host = _host(monkeypatch, stage_deadline_s=120)
    small = [Story(id=f"s{i}", headline="H", body="word " * 600) for i in range(64)]  # 192 KB
    large = [Story(id=f"l{i}", headline="H", body="9 % " * 225_000) for i in range(3)]
    assert host.budget_s(small) == 120
    assert host.budget_s(large) == 120 * 11  # 2.7 MB of text


class ScriptedWorker:
    """Stands in for StageWorker: answers each submitted story list from `answer`, which may
    return results, raise (a dead worker), or never finish (a hung one)."""

    def __init__(self, answer):
        self.answer = answer
        self.generation = 0
        self.replaced: list[str] = []
        self.pid = 1

    def submit(self, stories):
        future = asyncio.get_running_loop().create_future()
        outcome = self.answer(stories, self.generation)
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        elif outcome is not None:
            future.set_result(outcome)
        return future, self.generation  # None: never answered, as a hung worker

    async def replace(self, generation, why):
        if generation == self.generation:
            self.replaced.append(why)
            self.generation += 1


def test_a_story_that_hangs_the_worker_is_dead_lettered_and_the_rest_go_on(monkeypatch):
    """Issue 9 item 6, without a crash loop: the hung worker is replaced, the batch is
    processed again one story at a time, and only the story at fault is refused."""
    host = _host(monkeypatch, stage_deadline_s=0.2)
    batch = _batch(3)

    def answer(stories, generation):
        if any(s.id == "s1" for s in stories):
            return None  # hangs on this story, in every worker
        return [encode_story(s) for s in stories]

    host.worker = ScriptedWorker(answer)

    async def scenario():
        batch.results, batch.generation = host.submit(batch.decoded.stories)
        batch.started = time.perf_counter()
        return await host.results_of(batch)

    results = asyncio.run(scenario())
    assert [type(r).__name__ for r in results] == ["OutRecord", "Rejected", "OutRecord"]
    assert results[1].reason_class == "stage_timeout" and "on this story alone" in results[1].reason
    assert len(host.worker.replaced) == 2, "replaced for the batch, then for the story alone"


def test_a_worker_that_died_is_replaced_and_the_batch_processed_again(monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    host = _host(monkeypatch)
    batch = _batch(2)
    host.worker = ScriptedWorker(lambda stories, generation: BrokenProcessPool("killed") if generation == 0
                                 else [encode_story(s) for s in stories])

    async def scenario():
        batch.results, batch.generation = host.submit(batch.decoded.stories)
        return await host.results_of(batch)

    results = asyncio.run(scenario())
    assert all(type(r).__name__ == "OutRecord" for r in results)
    assert host.worker.replaced == ["it died"]
