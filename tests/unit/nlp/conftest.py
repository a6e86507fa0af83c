from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
SEEDS = SHARED / "seeds"


def seed_text(prefix: str) -> str:
    files = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip(f"seed story {prefix}_*.txt not available under {SEEDS}")
    return files[0].read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def enricher():
    from services.extract.nlp import Enricher

    return Enricher(batch_size=8)
