from __future__ import annotations

import pytest

from tests.conftest import shared_data_dir

SEEDS = shared_data_dir() / "seeds"  # $WIRESTREAM_SHARED_DATA or ../shared/data, like every other test


def seed_text(prefix: str) -> str:
    files = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip(f"seed story {prefix}_*.txt not available under {SEEDS}")
    return files[0].read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def enricher():
    from services.extract.nlp import Enricher

    return Enricher(batch_size=8)
