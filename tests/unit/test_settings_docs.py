from pathlib import Path

import pytest

from shared.settings import IndexSettings, IngestSettings
from shared.settings_docs import settings_markdown

REPO = Path(__file__).resolve().parents[2]


def test_configuration_doc_is_generated_from_the_settings():
    assert (REPO / "docs" / "configuration.md").read_text() == settings_markdown(), \
        "docs/configuration.md is stale: run `make docs`"


def test_settings_come_from_environment(monkeypatch):
    monkeypatch.setenv("WIRESTREAM_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("WIRESTREAM_BULK_MAX_DOCS", "25")
    assert IndexSettings().kafka_bootstrap == "kafka:9092"
    assert IndexSettings().bulk_max_docs == 25


def test_invalid_setting_is_refused(monkeypatch):
    monkeypatch.setenv("WIRESTREAM_SESSION_TIMEOUT_MS", "3000")  # noida and tansu reject < 6000
    with pytest.raises(ValueError):
        IngestSettings()
