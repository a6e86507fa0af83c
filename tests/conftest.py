"""Fixtures every test tier shares: where the real public data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """../shared/data beside the repo (or $WIRESTREAM_SHARED_DATA): research data, never committed."""
    return Path(os.environ.get("WIRESTREAM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not available at {path}")
    return path


@pytest.fixture(scope="session")
def seeds_dir(shared_data: Path) -> Path:
    seeds = shared_data / "seeds"
    if not seeds.is_dir():
        pytest.skip("seed stories not available")
    return seeds
