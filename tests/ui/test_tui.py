"""Pilot tests of the TUI on real demo sessions, a real private tmux and real worktrees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.command import CommandPalette
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Select, TextArea

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.app import LEAVE_INSERT, AgentmuxApp
from agentmux.ui.messages import ConnectionChanged, OutputUpdated, SessionsRefreshed
from agentmux.ui.modals import BroadcastScreen, ConfirmScreen, HelpScreen, NewSessionScreen
from tests.conftest import screen, wait_for

SIZE = (160, 45)


class RecordingApp(AgentmuxApp):
    """The real app, keeping a log of the messages it handled."""

    def __init__(self, manager: SessionManager, **kwargs: object) -> None:
        super().__init__(manager, refresh_seconds=0.3, **kwargs)  # type: ignore[arg-type]
        self.seen: list[str] = []

    def on_sessions_refreshed(self, message: SessionsRefreshed) -> None:
        self.seen.append("SessionsRefreshed")
        super().on_sessions_refreshed(message)

    def on_output_updated(self, message: OutputUpdated) -> None:
        self.seen.append("OutputUpdated")
        super().on_output_updated(message)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.seen.append(f"ConnectionChanged {message.state}")
        super().on_connection_changed(message)


async def until(
    check: Callable[[], object],
    timeout: float = 15.0,
    what: str = "it",
    detail: Callable[[], str] = lambda: "",
) -> None:
    """Wait (without blocking the event loop) until ``check`` holds; ``detail`` says more when
    it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    more = detail()
    pytest.fail(f"timed out waiting for {what}" + (f"\n{more}" if more else ""))


def demo_sessions(manager: SessionManager, *names: str) -> None:
    for name in names:
        manager.create(agent="demo", name=name)
    for name in names:
        wait_for(lambda n=name: "demo ❯" in screen(manager, n), what=f"{name} ready")  # type: ignore[misc]


def focused_name(app: AgentmuxApp) -> str | None:
    pane = app.grid.focused_pane()
    return pane.record.name if pane else None


async def test_empty_state_then_new_session_modal(repo: Path, manager: SessionManager) -> None:
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: "SessionsRefreshed" in app.seen, what="first refresh")
        assert app.screen.query_one("#empty").display
        await pilot.press("n")
        assert isinstance(app.screen, NewSessionScreen)
        # The form's default agent is whichever is installed; the test names its own.
        app.screen.query_one("#agent", Select).value = "demo"
        app.screen.query_one("#name", Input).value = "fromtui"
        app.screen.query_one("#prompt", TextArea).text = "write tui.txt made in the TUI"
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, NewSessionScreen)
        await until(lambda: manager.store.session_by_name("fromtui") is not None, what="create")
        record = manager.get("fromtui")
        await until(lambda: (Path(record.worktree) / "tui.txt").exists(), what="prompt")
        await until(lambda: len(app.grid.panes) == 1, what="its pane")
        assert not app.screen.query_one("#empty").display
        assert record.agent == "demo"


async def test_focus_keys_tab_and_click(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "one", "two", "three")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 3, what="three panes")
        assert focused_name(app) == "one"
        await pilot.press("2")
        assert focused_name(app) == "two"
        await pilot.press("tab")
        assert focused_name(app) == "three"
        await pilot.press("tab")
        assert focused_name(app) == "one"
        await pilot.press("shift+tab")
        assert focused_name(app) == "three"
        await pilot.press("9")  # no ninth pane: nothing changes
        assert focused_name(app) == "three"
        first = next(iter(app.grid.panes.values()))
        await pilot.click(first)
        assert focused_name(app) == "one"
        assert first.has_class("-focused")


async def test_screens_are_mirrored_and_windows_sized_to_cells(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "left", "right")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        left = next(iter(app.grid.panes.values()))
        await until(lambda: any("demo ❯" in row for row in left.rows), what="mirrored screen")
        assert "OutputUpdated" in app.seen
        width = left.size.width

        def window_size() -> tuple[int, int]:
            pane = manager.panes_by_session()[left.record.id]
            out = manager.tmux.cmd(
                "display-message", "-p", "-t", pane.pane_id, "#{pane_width} #{pane_height}"
            )
            w, h = out[0].split()
            return int(w), int(h)

        await until(
            lambda: window_size() == (left.size.width, left.size.height),
            what="window at the cell size",
        )
        manager.send("left", b"spam 5")
        await until(lambda: any("spam 5/5" in row for row in left.rows), what="live update")
        await pilot.press("z")
        await until(lambda: window_size()[0] > width, what="zoomed window resized")


async def test_zoom_shows_one_pane_and_back(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "a1", "a2")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        await pilot.press("2", "z")
        shown = [p.record.name for p in app.grid.panes.values() if p.display]
        assert shown == ["a2"] and app.grid.zoomed
        await pilot.press("z")
        assert all(p.display for p in app.grid.panes.values()) and not app.grid.zoomed


async def test_insert_mode_sends_every_key_to_the_agent(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "typist")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("i")
        assert app.grid.insert_mode
        # Keys that are bindings outside insert mode (q quits, n opens a form) go to the agent.
        await pilot.press(*"write q.txt qn1z", "enter")
        record = manager.get("typist")
        await until(lambda: (Path(record.worktree) / "q.txt").exists(), what="typed prompt")
        assert (Path(record.worktree) / "q.txt").read_text() == "qn1z"
        assert app.is_running and not isinstance(app.screen, NewSessionScreen)
        await pilot.press("ctrl+right_square_bracket")
        assert not app.grid.insert_mode
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")


async def test_insert_mode_types_a_tilde_as_a_tilde(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "home")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        pane = next(iter(app.grid.panes.values()))
        await until(lambda: any("demo ❯" in row for row in pane.rows), what="mirrored")
        await pilot.press("i", *"write t.txt ~/x~", "enter")
        target = Path(manager.get("home").worktree) / "t.txt"
        await until(target.exists, what="typed prompt")
        # tmux's command parser expands a leading "~" even inside double quotes.
        assert target.read_text() == "~/x~"


async def test_broadcast_to_all_and_to_selected(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "b1", "b2", "b3")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 3, what="panes")
        await pilot.press("b")
        assert isinstance(app.screen, BroadcastScreen)
        app.screen.query_one("#text", TextArea).text = "write all.txt x"
        await pilot.press("ctrl+s")
        for name in ("b1", "b2", "b3"):
            worktree = Path(manager.get(name).worktree)
            await until((worktree / "all.txt").exists, what=f"broadcast reaching {name}")
        await pilot.press("2", "space")
        assert app.grid.selected == {manager.get("b2").id}
        await pilot.press("b")
        app.screen.query_one("#text", TextArea).text = "write sel.txt x"
        await pilot.press("ctrl+s")
        await until((Path(manager.get("b2").worktree) / "sel.txt").exists, what="selected")
        await asyncio.sleep(0.5)
        assert not (Path(manager.get("b1").worktree) / "sel.txt").exists()


async def test_stop_and_remove_ask_first(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "victim")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert manager.get("victim").status is Status.RUNNING
        await pilot.press("x", "y")
        await until(lambda: manager.get("victim").status is Status.STOPPED, what="stopped")
        await until(lambda: "stopped" in str(app.grid.focused_pane().border_title), what="title")  # type: ignore[union-attr]
        await pilot.press("d", "y")
        await until(lambda: manager.store.session_by_name("victim") is None, what="removed")
        await until(lambda: not app.grid.panes, what="pane gone")


async def test_remove_refusal_is_shown_not_raised(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "precious")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("d", "y")
        await until(
            lambda: any("still running" in n.message for n in app._notifications),
            what="refusal notification",
        )
        assert manager.get("precious").status is Status.RUNNING


async def test_quit_leaves_agents_running_and_reopen_finds_them(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "stays")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("q")
    assert not app.is_running
    assert manager.reconcile()[0].status is Status.RUNNING
    again = RecordingApp(manager)
    async with again.run_test(size=SIZE):
        await until(
            lambda: [p.record.name for p in again.grid.panes.values()] == ["stays"],
            what="the same session",
        )


async def test_command_palette_and_longest_idle(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "old")
    time.sleep(2.1)  # tmux keeps activity times in whole seconds
    demo_sessions(manager, "new")
    # Busy (so not waiting for you, which `w` would prefer) and printing: never idle longest.
    manager.send("new", b"sleep 20")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        await pilot.press("2")
        await until(
            lambda: all(v.idle_seconds is not None for v in app.grid.views.values()),
            what="idle times",
        )
        await pilot.press("w")
        assert focused_name(app) == "old"
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")


async def test_more_than_nine_sessions_are_listed_not_lost(repo: Path) -> None:
    (repo / "agentmux.toml").write_text("max_sessions = 12\n")
    import subprocess

    subprocess.run(["git", "add", "agentmux.toml"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "config"], cwd=repo, check=True)
    manager = SessionManager.open(repo)
    for n in range(10):
        manager.create(agent="demo", name=f"s{n}")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 9, what="nine panes")
        overflow = app.screen.query_one("#overflow")
        assert "s9" in str(overflow.render())


async def test_theme_choice_and_broken_user_theme(repo: Path, manager: SessionManager) -> None:
    import os

    user_themes = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux" / "themes"
    user_themes.mkdir(parents=True)
    (user_themes / "broken.toml").write_text("name = [not toml")
    app = RecordingApp(manager, theme="agentmux-light")
    async with app.run_test(size=SIZE):
        assert app.theme == "agentmux-light"
        await until(
            lambda: any("broken" in n.message for n in app._notifications),
            what="broken theme message",
        )
    fallback = RecordingApp(manager, theme="no-such-theme")
    async with fallback.run_test(size=SIZE):
        assert fallback.theme == "agentmux-dark"


def test_pane_status_labels() -> None:
    from agentmux.ui.messages import SessionView
    from agentmux.ui.pane_view import status_label
    from tests.core.sessions.test_state import make_record

    record = make_record("x")
    running = SessionView(record.__class__(**{**record.__dict__, "status": Status.RUNNING}), 0.5)
    assert status_label(running, 3.0) == ("working", "-working")
    idle = SessionView(running.record, 10.0)
    assert status_label(idle, 3.0) == ("idle", "-idle")
    failed = SessionView(
        record.__class__(**{**record.__dict__, "status": Status.EXITED, "exit_status": 2}), None
    )
    assert status_label(failed, 3.0) == ("exited 2", "-failed")


async def test_waiting_for_you_is_marked_announced_and_jumped_to(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "calm", "asking")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        manager.send("asking", b"ask")
        asking = app.grid.panes[manager.get("asking").id]
        await until(lambda: "waiting for you" in str(asking.border_title), what="waiting mark")
        assert asking.has_class("-waiting")
        assert any("asking is waiting for you" in n.message for n in app._notifications)
        await pilot.press("1", "w")
        assert focused_name(app) == "asking"
        manager.send("asking", b"y", submit=False)
        await until(lambda: "waiting for you" not in str(asking.border_title), what="answered")


def test_is_waiting_reads_the_plain_screen() -> None:
    from agentmux.core.agents.attention import is_waiting
    from agentmux.core.agents.profiles import builtin_profiles

    demo = builtin_profiles()["demo"]
    assert is_waiting(demo, ("x", "\x1b[1;33m? demo wants to continue. Allow? [y/n]\x1b[0m "))
    assert not is_waiting(demo, ("demo ❯ ",))
    assert not is_waiting(builtin_profiles()["claude"].__class__("g", ("g",), "generic"), ("Do",))


def test_an_answered_question_is_not_waiting() -> None:
    from agentmux.core.agents.attention import is_waiting
    from agentmux.core.agents.profiles import builtin_profiles

    demo = builtin_profiles()["demo"]
    assert not is_waiting(demo, ("? demo wants to continue. Allow? [y/n] y", "⎿ Allowed"))


async def test_the_control_connection_is_remade_when_it_drops(
    repo: Path, manager: SessionManager
) -> None:
    import psutil

    demo_sessions(manager, "steady")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        pane = next(iter(app.grid.panes.values()))
        await until(lambda: any("demo ❯" in row for row in pane.rows), what="mirrored")

        def control_clients(keeper: bool = False) -> list[psutil.Process]:
            found = []
            for proc in psutil.Process().children(recursive=True):
                try:
                    argv = proc.cmdline()
                except psutil.Error:
                    continue  # exited meanwhile
                is_keeper = any("no-output" in arg for arg in argv)
                if "-C" in argv and "attach-session" in argv and keeper == is_keeper:
                    found.append(proc)
            return found

        first = control_clients()
        assert len(first) == 1
        first_keeper = control_clients(keeper=True)
        assert len(first_keeper) == 1
        before = len(app.seen)
        first[0].kill()
        # Seen in the log: the reconnect can follow the drop before this task looks again.
        await until(
            lambda: "ConnectionChanged disconnected" in app.seen[before:], what="the drop noticed"
        )
        await until(
            lambda: (
                app.grid.connection == "connected"
                and control_clients()
                and control_clients()[0].pid != first[0].pid
            ),
            what="reconnected",
        )
        manager.send("steady", b"spam 4")
        await until(lambda: any("spam 4/4" in row for row in pane.rows), what="live again")
        assert any("reconnected" in n.message for n in app._notifications)
        keepers = control_clients(keeper=True)
        assert len(keepers) == 1 and keepers[0].pid != first_keeper[0].pid


async def test_insert_mode_owns_ctrl_p_and_paste_reaches_the_agent(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_sessions(manager, "keys")
    # A paste is typed from a worker, through the core: make it slow, as on a loaded machine.
    # The Enter pressed right after it must wait for it, not submit an empty line before it.
    send = manager.send

    def slow_send(*args: Any, **kwargs: Any) -> object:
        time.sleep(1.0)
        return send(*args, **kwargs)

    monkeypatch.setattr(manager, "send", slow_send)
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("i", "ctrl+p")
        assert not isinstance(app.screen, CommandPalette), "Ctrl+P went to the agent"
        app.post_message(
            __import__("textual.events", fromlist=["Paste"]).Paste("write pasted.txt via paste")
        )
        await pilot.pause()
        await pilot.press("enter")
        record = manager.get("keys")
        await until((Path(record.worktree) / "pasted.txt").exists, what="pasted prompt")
        assert app.is_running


async def test_a_textual_builtin_theme_does_not_crash(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "themed")
    app = RecordingApp(manager, theme="textual-dark")
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        assert app.theme == "textual-dark"


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """A strip cell by cell (how it is cut into segments does not show on screen)."""
    return [(char, segment.style) for segment in strip for char in segment.text]


async def test_pane_rows_are_drawn_as_textual_itself_draws_them(
    repo: Path, manager: SessionManager
) -> None:
    """A pane hands the compositor its rows without Textual's per-row styling, reusing the
    border Textual drew: every state that changes the border, the title, the colours or the
    cursor must still look exactly as Textual's own rendering of the same pane."""
    demo_sessions(manager, "p1", "p2")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        first, second = app.grid.panes.values()
        await until(lambda: any("demo ❯" in row for row in first.rows), what="mirrored")

        async def same_as_textual(state: str) -> None:
            await pilot.pause(0.2)
            for pane in (first, second):
                if not pane.display:
                    continue  # hidden by the zoom: the compositor draws nothing of it
                whole = Region(0, 0, *pane.outer_size)
                ours = [cells(s) for s in pane.render_lines(whole)]
                theirs = [cells(s) for s in Widget.render_lines(pane, whole)]
                assert ours == theirs, f"{pane.record.name} differs from Textual's: {state}"
                part = Region(3, 1, 10, 4)  # a crop, as when a pane is partly covered
                assert [cells(s) for s in pane.render_lines(part)] == [
                    cells(s) for s in Widget.render_lines(pane, part)
                ], f"{pane.record.name}, cropped: {state}"

        await same_as_textual("mirrored")
        manager.send("p1", b"spam 30")
        await until(lambda: any("spam 30/30" in row for row in first.rows), what="scrolled")
        await same_as_textual("scrolled")
        await pilot.press("2")
        await same_as_textual("focus moved")
        await pilot.press("i")
        await same_as_textual("insert mode, cursor shown")
        await pilot.press(LEAVE_INSERT)
        await same_as_textual("insert mode left")
        second.set_tag("spend", "1.2k tok $0.0100")
        await same_as_textual("title changed")
        app.theme = "agentmux-light"
        await same_as_textual("theme changed")
        await pilot.press("z")
        await same_as_textual("zoomed")
        assert not first.display and second.display
        await pilot.press("z")
        await same_as_textual("zoomed out")


async def test_notifications_show_user_data_literally(repo: Path, manager: SessionManager) -> None:
    # Paths, names and git's words go into notifications; Textual would read "[/b]" or "[wip]"
    # as markup (an error, or text that vanishes).
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: "SessionsRefreshed" in app.seen, what="first refresh")
        app.notify("new conflict in a[/b]/r/proj [wip]/x.py")
        await until(lambda: bool(app.screen.query("Toast")), what="the toast")
        await pilot.pause()
        shown = [str(toast.render()) for toast in app.screen.query("Toast")]
        assert any("a[/b]/r/proj [wip]/x.py" in text for text in shown), shown
