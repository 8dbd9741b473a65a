"""The cockpit in a real browser (Debian's Chromium, headless, via Playwright) over a real
``agentmux serve``, real demo agents and a real private tmux."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.app import AgentmuxApp
from tests.conftest import demo_prompts as prompts
from tests.conftest import screen, wait_for
from tests.ui.test_tui import until
from tests.web.browser import chromium, open_cockpit, screen_text, until_screen
from tests.web.served import Served, start_serve

pytestmark = pytest.mark.slow
NAMES = ("alpha", "beta")


@pytest.fixture
def sessions(manager: SessionManager) -> Iterator[SessionManager]:
    """Two demo agents at their prompt."""
    for name in NAMES:
        manager.create(agent="demo", name=name)
    for name in NAMES:
        wait_for(lambda n=name: "demo ❯" in screen(manager, n), what=f"{name} ready")  # type: ignore[misc]
    yield manager


@pytest.fixture
def served(repo: Path, sessions: SessionManager) -> Iterator[Served]:
    """``agentmux serve`` on the repository with the demo agents."""
    server = start_serve(repo)
    yield server
    server.stop()


@pytest.fixture
def served_read_only(repo: Path, sessions: SessionManager) -> Iterator[Served]:
    """``agentmux serve --read-only`` on the repository with the demo agents."""
    server = start_serve(repo, "--read-only")
    yield server
    server.stop()


def footer(text: str) -> str:
    """The footer's row: the keys the cockpit offers."""
    return next((line for line in text.splitlines() if "palette" in line), "")


def shows_grid(text: str) -> bool:
    return all(f" {name} · demo" in text for name in NAMES) and "zoom" in footer(text)


async def test_the_cockpit_in_a_browser(served: Served, sessions: SessionManager) -> None:
    manager = sessions
    async with chromium() as browser:
        page = await open_cockpit(browser, served.url)
        text = await until_screen(page, shows_grid, "the grid with both demo sessions")
        assert "demo ❯" in text
        assert "zoom" in footer(text) and "attach" not in footer(text)  # a: not offered
        assert len(served.tuis()) == 1  # this tab's TUI
        # Insert mode on pane 1: the prompt reaches the agent, which acts on it.
        # Clicked inside pane 1, as "1" says: a click is a message the app handles after the
        # keys already queued, so a click on another pane (the middle of the page is pane 2's
        # edge) could move the focus back after "1".
        await page.click("#terminal", position={"x": 40, "y": 40})
        await page.keyboard.press("1")
        await page.keyboard.press("i")
        await until_screen(page, lambda t: "insert mode" in t, "insert mode")
        await page.keyboard.type("write typed.txt from a browser tab")
        await page.keyboard.press("Enter")
        typed = Path(manager.get("alpha").worktree) / "typed.txt"
        shown = await screen_text(page)

        def wrote() -> bool:
            return typed.exists() and typed.read_text() == "from a browser tab"

        await until(
            wrote,
            what="the agent to write typed.txt",
            timeout=20,
            detail=lambda: f"the agent's pane:\n{screen(manager, 'alpha')}\nthe page:\n{shown}",
        )
        await until(
            lambda: "write typed.txt from a browser tab" in prompts(manager, "alpha"),
            what="the prompt in the agent's transcript",
            timeout=20,
        )
        assert prompts(manager, "beta") == []
        # Ctrl+] only now: Textual handles it (a priority key) ahead of keys still queued.
        await page.keyboard.press("Control+BracketRight")
        await until_screen(page, lambda t: "i type" in footer(t), "insert mode left")
        # Closing the tab ends its TUI, never an agent.
        await page.close()
        await until(lambda: served.tuis() == [], what="the tab's TUI to exit", timeout=20)
    records = {r.name: r for r in manager.reconcile()}
    assert all(records[name].status is Status.RUNNING for name in NAMES)
    assert "demo ❯" in screen(manager, "beta")


async def test_read_only_types_nothing_and_changes_nothing(
    served_read_only: Served, sessions: SessionManager
) -> None:
    manager = sessions
    before = {r.name for r in manager.sessions()}
    async with chromium() as browser:
        page = await open_cockpit(browser, served_read_only.url)
        text = await until_screen(page, shows_grid, "the grid with both demo sessions")
        assert "read-only" in text
        keys = footer(text)
        for offered in ("zoom", "review", "cost", "help"):
            assert offered in keys
        for refused in ("type", "new", "broadcast", "merge", "attach"):
            assert f" {refused} " not in keys
        await page.click("#terminal")
        # i (insert), then a prompt and Enter: nothing reaches the agent.
        await page.keyboard.press("i")
        await until_screen(page, lambda t: "read-only: insert is not offered" in t, "refusal")
        await page.keyboard.type("write ro.txt typed read-only")
        await page.keyboard.press("Enter")
        # n, b, x, d, r, m: no form, no question, no stop, no removal, no resume, no merge.
        for key in ("n", "b", "x", "d", "r", "m"):
            await page.keyboard.press(key)
        # The command palette offers none of them either.
        await page.keyboard.press("Control+p")
        await until_screen(page, lambda t: "Search for commands" in t, "the palette")
        await page.keyboard.type("new")
        await asyncio.sleep(0.5)
        assert "New session" not in await screen_text(page)
        await page.keyboard.press("Escape")
        await asyncio.sleep(1.0)  # time for anything that slipped through to act
        text = await screen_text(page)
        assert "New session" not in text and "Stop the agent" not in text
    worktree = Path(manager.get("alpha").worktree)
    assert not (worktree / "ro.txt").exists()
    assert prompts(manager, "alpha") == [] and prompts(manager, "beta") == []
    assert "ro.txt" not in screen(manager, "alpha")
    records = manager.reconcile()
    assert {r.name for r in records} == before
    assert all(r.status is Status.RUNNING for r in records)


def window_width(manager: SessionManager, name: str) -> int:
    record = manager.get(name)
    assert record.tmux_pane_id is not None
    out = manager.tmux.cmd("display-message", "-p", "-t", record.tmux_pane_id, "#{window_width}")
    return int(out[0])


def cell_width(text: str) -> int:
    """The width of pane 1's cell in the page: its border's top row, inside the corners."""
    top = next(line for line in text.splitlines() if "╭" in line)
    return top.index("╮") - top.index("╭") - 1


async def test_a_browser_and_a_terminal_cockpit_at_once(
    served: Served, sessions: SessionManager
) -> None:
    """Both see the sessions; the one used last sizes the agents' windows, the other leaves
    them alone, even when its layout changes."""
    manager = sessions
    async with chromium() as browser:
        page = await open_cockpit(browser, served.url)
        text = await until_screen(page, shows_grid, "the grid in the browser")
        browser_width = cell_width(text)
        await until(
            lambda: window_width(manager, "alpha") == browser_width,
            what="the browser's sizes",
            timeout=20,
        )
        other = SessionManager.open(Path(manager.repo.root))
        app = AgentmuxApp(other, refresh_seconds=0.3, radar=False)
        async with app.run_test(size=(200, 50)) as pilot:
            await until(lambda: len(app.grid.panes) == 2, what="the terminal's grid", timeout=20)

            def terminal_width() -> int:
                return next(iter(app.grid.panes.values())).size.width

            # The terminal cockpit opened last: it sizes the windows.
            await until(
                lambda: window_width(manager, "alpha") == terminal_width(),
                what="the terminal's sizes",
                timeout=20,
            )
            assert terminal_width() != browser_width
            # A key in the browser: the browser's sizes again.
            await page.click("#terminal")
            await page.keyboard.press("Tab")
            await until(
                lambda: window_width(manager, "alpha") == browser_width,
                what="the browser's sizes",
                timeout=20,
            )
            # A third session changes both layouts; only the browser (used last) sizes them.
            manager.create(agent="demo", name="gamma")
            text = await until_screen(page, lambda t: " gamma · demo" in t, "gamma in the browser")
            await until(lambda: len(app.grid.panes) == 3, what="gamma in the terminal", timeout=20)
            browser_width = cell_width(text)
            await until(
                lambda: window_width(manager, "alpha") == browser_width,
                what="the browser's sizes",
                timeout=20,
            )
            await pilot.pause(1.0)
            assert window_width(manager, "alpha") == browser_width != terminal_width()
            # A key in the terminal: its sizes.
            await pilot.press("tab")
            await until(
                lambda: window_width(manager, "alpha") == terminal_width(),
                what="the terminal's sizes",
                timeout=20,
            )
            assert "gamma" in await screen_text(page)
        other.close()
        await page.close()
