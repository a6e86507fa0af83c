"""Each language's model loads on first use, once, also under concurrent first use, unless the
worker preloads it (WIRESTREAM_PRELOAD_MODELS) (issue 12)."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import ValidationError

import services.extract.nlp as nlp_module
from shared.contract import Story
from shared.settings import ExtractSettings
from services.extract.nlp import Enricher
from services.extract.service import make_enricher


def _counting_loader(monkeypatch, enricher_models: dict) -> list[str]:
    """Replace load_ner by one that records each load and reuses a model loaded once per test session."""
    calls: list[str] = []
    real = nlp_module.load_ner

    def load(lang: str):
        calls.append(lang)
        time.sleep(0.05)  # widen the window in which two threads could both load
        if lang not in enricher_models:
            enricher_models[lang] = real(lang)
        return enricher_models[lang]

    monkeypatch.setattr(nlp_module, "load_ner", load)
    return calls


_MODELS: dict = {}


def test_no_model_loads_until_a_story_of_its_language_arrives(monkeypatch):
    calls = _counting_loader(monkeypatch, _MODELS)
    enricher = Enricher(batch_size=4)
    assert calls == [] and enricher.loaded_models() == []

    [german] = enricher.enrich([Story(id="d", body="Angela Merkel sprach in Berlin.", language="de")])
    assert calls == [] and german.ner_model == "none"

    [english] = enricher.enrich([Story(id="e", body="Angela Merkel spoke in Paris on Monday.", language="en")])
    assert calls == ["en"] and enricher.loaded_models() == ["en"]
    assert english.ner_model == nlp_module.MODELS["en"] and english.entities

    enricher.enrich([Story(id="e2", body="Renault hired engineers in Paris.", language="en")])
    assert calls == ["en"]  # loaded once

    [french] = enricher.enrich([Story(id="f", body="Emmanuel Macron était à Lyon mardi.", language="fr")])
    assert calls == ["en", "fr"] and french.ner_model == nlp_module.MODELS["fr"]


def test_concurrent_first_use_loads_a_model_once(monkeypatch):
    calls = _counting_loader(monkeypatch, _MODELS)
    enricher = Enricher(batch_size=4)
    got: list = []
    start = threading.Barrier(4)

    def use():
        start.wait()
        got.append(enricher.nlp("en"))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["en"]
    assert len(got) == 4 and all(model is got[0] for model in got)


def test_the_worker_loads_the_preloaded_models_before_its_first_batch(monkeypatch):
    calls = _counting_loader(monkeypatch, _MODELS)
    process = make_enricher(4, 1_000_000, None, ("en", "fr"))
    assert calls == ["en", "fr"]  # at start, no story yet
    [english] = process([Story(id="e", body="Angela Merkel spoke in Paris on Monday.", language="en")])
    assert calls == ["en", "fr"] and english.ner_model == nlp_module.MODELS["en"]


def test_preload_models_names_only_languages_with_a_model(monkeypatch):
    monkeypatch.setenv("WIRESTREAM_PRELOAD_MODELS", "en, fr")
    assert ExtractSettings().preload_languages() == ["en", "fr"]
    monkeypatch.setenv("WIRESTREAM_PRELOAD_MODELS", "")
    assert ExtractSettings().preload_languages() == []
    monkeypatch.setenv("WIRESTREAM_PRELOAD_MODELS", "en,de")
    with pytest.raises(ValidationError, match="no NER model for de"):
        ExtractSettings()
