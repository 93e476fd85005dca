"""A real browser for the UI tests: Debian's Chromium driven headless by Playwright (never a
downloaded browser), and numbered screenshots of each step in test-artifacts/ (git-ignored)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse_assets_tests.support.paths import PROJECT_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_DIR / "test-artifacts"

# Checked before any fixture, so without a browser nothing expensive is started for the test.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) to run the UI tests",
)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Screens:
    """Numbered screenshots of each step in test-artifacts/<folder>/, marked when the step failed."""

    def __init__(self, page, folder: str) -> None:
        self.page = page
        self.count = 0
        self.folder = ARTIFACTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        try:
            yield
        except BaseException:
            self.page.screenshot(path=self.folder / f"{stem}-FAILED.png", full_page=True)
            raise
        self.page.screenshot(path=self.folder / f"{stem}.png", full_page=True)
