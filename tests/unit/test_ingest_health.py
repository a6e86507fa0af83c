"""The ingest service's health beat shows the producer's state and stops while no working
producer exists (issue 9 item 0: /healthz kept answering ok with a poisoned producer)."""

from __future__ import annotations

import asyncio

import services.ingest.service as service


class FakeHealth:
    def __init__(self):
        self.beats = []

    def beat(self, **details):
        self.beats.append(details)


class FakePublisher:
    def __init__(self, usable: bool):
        self.usable = usable
        self.checks = 0

    def check(self):
        self.checks += 1
        return self.usable

    def connected(self):
        self.checks += 1  # the loop asks one or the other on every round
        return True

    def state(self):
        return {"producer": "ok" if self.usable else "fatal, not replaced: no broker", "producer_replacements": 1,
                "producer_last_fatal_error": "MessageSizeTooLargeError()"}


def _beat_for_a_while(publisher, monkeypatch) -> FakeHealth:
    monkeypatch.setattr(service, "BEAT_S", 0.01)
    health = FakeHealth()

    async def run():
        task = asyncio.create_task(service._beat_while_connected(health, publisher))
        while publisher.checks < 3:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    return health


def test_health_beats_with_the_producer_state_after_a_replacement(monkeypatch):
    health = _beat_for_a_while(FakePublisher(usable=True), monkeypatch)
    assert health.beats and health.beats[0]["producer_replacements"] == 1
    assert health.beats[0]["producer_last_fatal_error"] == "MessageSizeTooLargeError()"


def test_no_beat_while_the_producer_cannot_be_replaced(monkeypatch):
    health = _beat_for_a_while(FakePublisher(usable=False), monkeypatch)
    assert health.beats == []
