"""Debian's Chromium, headless, driven by Playwright (never a browser Playwright downloads), and
a way to read the cockpit's terminal from the page.

textual-serve draws the TUI with xterm.js on a canvas (WebGL or 2D), so the page has no text to
read. An init script catches the page's xterm ``Terminal`` when textual.js stores it
(``this.terminal = new Terminal(...)``: a setter on ``Object.prototype`` sees the assignment) and
reads its buffer, the characters the terminal shows, through xterm's public buffer API.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 800}
HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer) { window.__agentmuxTerminal = value; }
  },
});
window.__agentmuxScreen = () => {
  const term = window.__agentmuxTerminal;
  if (!term) { return ''; }
  const buffer = term.buffer.active;
  const rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
};
"""


def need_chromium() -> None:
    """Skip without Chromium here; fail in CI, which must have it (.ci/run installs it)."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed afterwards."""
    need_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_cockpit(browser: Browser, url: str) -> Page:
    """A new tab on ``url``, its terminal readable with :func:`screen_text`."""
    page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    await page.add_init_script(HOOK)
    await page.goto(url)
    return page


async def screen_text(page: Page) -> str:
    """What the page's terminal shows, row by row."""
    text = await page.evaluate("window.__agentmuxScreen ? window.__agentmuxScreen() : ''")
    return str(text)


async def until_screen(
    page: Page, check: Callable[[str], object], what: str, timeout: float = 20.0
) -> str:
    """Wait until ``check`` holds for the page's terminal text; that text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = await screen_text(page)
        if check(text):
            return text
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; the page shows:\n{text}")
