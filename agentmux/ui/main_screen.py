"""The grid screen and the keys of the app: its bindings, the help screen's rows and the command
palette's entries, kept side by side so a key and its description change together.

The bindings name actions on the app (``app.zoom``): the app turns them all off in insert mode
(:meth:`agentmux.ui.app.AgentmuxApp.check_action`) and hands each to the part that owns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

LEAVE_INSERT = "ctrl+right_square_bracket"
LEAVE_INSERT_LABEL = "Ctrl+]"
EMPTY_TEXT = (
    "[b]No sessions yet.[/b]\n\n"
    "Press [b]n[/b] to start an agent in its own worktree and branch,\n"
    "or run [b]agentmux demo[/b] to see demo agents at work.\n\n"
    "[b]?[/b] lists every key, [b]q[/b] quits (agents keep running)."
)

#: The command palette's entries: title, help, and the app action (``action_<name>``) it runs.
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("New session", "start agents in new worktrees", "new"),
    ("Broadcast", "send one prompt to several sessions", "broadcast"),
    ("Zoom", "zoom the focused pane", "zoom"),
    ("Insert mode", "type into the focused agent", "insert"),
    ("Attach", "attach full-screen to the focused session", "attach"),
    ("Stop", "stop the focused agent", "stop"),
    ("Remove", "remove the focused session", "remove"),
    ("Waiting longest", "jump to the session waiting for you longest", "oldest_waiting"),
    ("Conflicts", "which sessions collide, down to the hunk", "conflicts"),
    ("Review", "the focused session's changed files and diffs", "review"),
    ("Resume session", "bring back the focused session's agent", "resume"),
    ("Resume all lost sessions", "after a reboot: every lost one", "resume_lost"),
    ("Merge", "plan and land a merge of the ready sessions", "merge"),
    ("Cost", "spend, failures and queue wait per session", "cost_panel"),
    ("Help", "list every key", "help"),
)


class MainScreen(Screen[None]):
    """The grid. Its bindings are off while insert mode sends every key to an agent."""

    # The actions live on the app, which also turns them all off in insert mode.
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"app.focus_pane({n})", f"pane {n}", show=False) for n in range(1, 10)),
        Binding("tab", "app.cycle(1)", "next pane", show=False),
        Binding("shift+tab", "app.cycle(-1)", "previous pane", show=False),
        Binding("i,enter", "app.insert", "type"),
        Binding("z", "app.zoom", "zoom"),
        Binding("space", "app.select", "select", show=False),
        Binding("a", "app.attach", "attach"),
        Binding("n", "app.new", "new"),
        Binding("b", "app.broadcast", "broadcast"),
        Binding("x", "app.stop", "stop", show=False),
        Binding("d", "app.remove", "remove", show=False),
        Binding("w", "app.oldest_waiting", "waiting longest", show=False),
        Binding("c", "app.conflicts", "conflicts"),
        Binding("v", "app.review", "review"),
        Binding("r", "app.resume", "resume", show=False),
        Binding("m", "app.merge", "merge"),
        Binding("dollar_sign", "app.cost_panel", "cost"),
        Binding("question_mark", "app.help", "help"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, mounted: Callable[[], None], notice: str = "") -> None:
        """``notice``: a line shown above the grid (what this cockpit may not do)."""
        super().__init__()
        self._mounted = mounted
        self._notice = notice

    def on_mount(self) -> None:
        """Lay out whatever sessions arrived before the grid existed."""
        self._mounted()

    def compose(self) -> ComposeResult:
        """Notice line, grid, empty-state text, overflow line, footer."""
        if self._notice:
            yield Static(self._notice, id="mode", markup=False)
        yield Static(EMPTY_TEXT, id="empty")
        yield Grid(id="grid")
        yield Static("", id="overflow")
        yield Footer()


def top_screen(app: App[None]) -> Screen[object] | None:
    """The screen on top, or None while the app is starting or shutting down (a message from a
    worker can arrive then)."""
    return app.screen_stack[-1] if app.screen_stack else None


#: The action of each help row whose key changes something or needs a terminal (by its keys).
_HELP_ACTIONS = {
    "i or Enter": "insert",
    "a": "attach",
    "n": "new",
    "b": "broadcast",
    "x": "stop",
    "d": "remove",
    "r": "resume",
    "m": "merge",
}


def refused_action(key: str) -> str | None:
    """The app action the grid binds to ``key``, for saying why it did nothing."""
    for binding in MainScreen.BINDINGS:
        if isinstance(binding, Binding) and key in binding.key.split(","):
            return binding.action.removeprefix("app.")
    return None


def help_rows(allows: Callable[[str], bool] = lambda _action: True) -> list[tuple[str, str]]:
    """Every binding the cockpit offers (``allows`` an action), for the help screen and the
    docs."""
    rows = [
        ("1-9", "focus that pane"),
        ("Tab / Shift+Tab", "next / previous pane (mouse click works too)"),
        ("i or Enter", f"insert mode: every key goes to the agent; {LEAVE_INSERT_LABEL} leaves"),
        ("z", "zoom the focused pane to full size, and back"),
        ("space", "select the pane for a broadcast"),
        ("a", "attach full-screen (detach with C-b d to come back)"),
        ("n", "new session(s): agent, name, base, prompt, count"),
        ("b", "broadcast a prompt: all, selected, or every idle session"),
        ("x", "stop the focused agent"),
        ("d", "remove the focused session (never loses work)"),
        ("w", "jump to the session waiting for you longest (else the one idle longest)"),
        ("c", "conflict panel: which sessions collide, the files, the hunks side by side"),
        ("v", "review the focused session: changed files, diffs; C commits, m merges it"),
        ("r", "resume the focused session (lost, exited or stopped): same conversation"),
        ("m", "merge: show the plan (order, what is left out), then land it all or nothing"),
        ("$", "cost panel: spend, tokens, turns, failures, queue wait; spend over time"),
        ("Ctrl+P", "command palette"),
        ("?", "this help"),
        ("q", "quit (agents keep running)"),
    ]
    return [row for row in rows if allows(_HELP_ACTIONS.get(row[0], ""))]
