"""Headless Chromium for the browser tests and `make screenshots`: Debian's chromium driven
by Playwright for Python. Playwright's own browser download is never used (it fetches a
build from the internet); .ci/run installs Debian's package when it is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
# No background traffic of its own: the tests check that a page asks only this machine.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    configured = os.environ.get("WIRESTREAM_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def missing_reason() -> str | None:
    """Why no browser test can run here, or None when one can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium, or set WIRESTREAM_CHROMIUM)"
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=ARGS, headless=True)
