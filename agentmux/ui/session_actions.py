"""What the user does to sessions from the grid: start new ones (`n`), broadcast a prompt (`b`),
stop (`x`) or remove (`d`) the focused one after asking, and review it (`v`).

:class:`SessionActions` is one of the app's parts (the pattern is in :mod:`agentmux.ui.app`):
the app's actions call it; each core operation runs in a thread worker that reports progress and
failure as messages, and posts :class:`~agentmux.ui.messages.StateChanged` so the grid reconciles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.app import App

from agentmux.core.agents.profiles import all_profiles, resolve_profile
from agentmux.core.config.hosts import load_hosts
from agentmux.core.errors import AgentmuxError
from agentmux.core.records import LOCAL_HOST
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.messages import CoreFailed, Progress, StateChanged
from agentmux.ui.modals import (
    BroadcastRequest,
    BroadcastScreen,
    ConfirmScreen,
    NewSessionRequest,
    NewSessionScreen,
)
from agentmux.ui.panes import PaneGrid
from agentmux.ui.review_screen import MergeStarter, ReviewScreen


class SessionActions:
    """Start, prompt, stop, remove and review sessions; the core does the work, off the loop."""

    def __init__(self, app: App[None], manager: SessionManager, grid: PaneGrid) -> None:
        self.app = app
        self.manager = manager
        self.grid = grid

    def new(self) -> None:
        """The new-session form."""
        profiles = sorted(all_profiles(self.manager.config))
        default = resolve_profile(self.manager.config, None).name

        def started(request: NewSessionRequest | None) -> None:
            if request is not None:
                self._in_thread(self._create, request)

        try:
            hosts = sorted(load_hosts())
        except AgentmuxError as exc:  # a broken hosts.toml: say so, offer this machine only
            self.app.notify(exc.message, severity="error")
            hosts = []
        self.app.push_screen(NewSessionScreen(profiles, default, hosts), started)

    def broadcast(self) -> None:
        """The broadcast form: to all, the selected, or every idle session."""
        grid = self.grid
        names = [v.record.name for v in grid.views.values() if v.record.id in grid.selected]

        def send(request: BroadcastRequest | None) -> None:
            if request is not None:
                self._in_thread(self._broadcast, request, names)

        self.app.push_screen(BroadcastScreen(len(names)), send)

    def stop(self) -> None:
        """Ask, then stop the focused agent."""
        self._confirm_then("stop", "Stop the agent of [b]{name}[/b]?")

    def remove(self) -> None:
        """Ask, then remove the focused session (the core refuses to lose work)."""
        self._confirm_then(
            "remove",
            "Remove [b]{name}[/b]? Its worktree goes; its branch stays. A session with a running "
            "agent or unmerged work is refused (use `agentmux rm --force`).",
        )

    def remove_now(self, name: str) -> None:
        """Remove ``name`` without asking again (the merge flow asked), off the loop."""
        self.run_core(f"remove {name}", "remove", name)

    def review(self, merge: MergeStarter) -> None:
        """Review the focused session: its changed files and their diffs; commit, merge."""
        if pane := self.grid.focused_pane():
            record = pane.record
            if record.host != LOCAL_HOST:
                # The review screen reads the worktree on this machine; the host's is there.
                self.app.notify(
                    f"{record.name} runs on host {record.host}: review it with `agentmux diff "
                    f"{record.name}`; `m` plans merges with it (or `agentmux merge "
                    f"{record.name}`).",
                    timeout=10,
                )
                return
            self.app.push_screen(ReviewScreen(self.manager, record.name, record.branch, merge))

    def _confirm_then(self, operation: str, question: str) -> None:
        """Ask ``question`` about the focused session; on yes, run the core ``operation``."""
        pane = self.grid.focused_pane()
        if pane is None:
            return
        name = pane.record.name

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_core(f"{operation} {name}", operation, name)

        self.app.push_screen(ConfirmScreen(question.format(name=name)), answer)

    def run_core(self, label: str, operation: str, *args: object) -> None:
        """Run one SessionManager operation in a thread; report its outcome."""
        self._in_thread(self._run_core, label, operation, *args)

    def _in_thread(self, function: Callable[..., None], *args: object) -> None:
        self.app.run_worker(partial(function, *args), thread=True, group="core")

    def _run_core(self, label: str, operation: str, *args: object) -> None:
        try:
            getattr(self.manager, operation)(*args)
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"{label}: {exc.message}"))
        except Exception as exc:  # a worker error must not take the TUI down
            self.app.post_message(CoreFailed(f"{label} failed: {exc}"))
        self.app.post_message(StateChanged())

    def _create(self, request: NewSessionRequest) -> None:
        prompt = request.prompt.encode() if request.prompt else None
        made = []
        for n in range(1, request.count + 1):
            name = request.name if request.count == 1 or not request.name else f"{request.name}-{n}"
            self.app.post_message(Progress(f"starting session {n} of {request.count}…"))
            try:
                if request.host != LOCAL_HOST:
                    # The host's agentmux types the prompt itself once its agent is ready.
                    self.manager.remote.create(
                        request.host,
                        agent=request.agent,
                        name=name,
                        base=request.base,
                        prompt=prompt,
                    )
                    self.app.post_message(StateChanged())
                    continue
                made.append(
                    self.manager.create(
                        agent=request.agent,
                        name=name,
                        prompt=prompt,
                        base=request.base,
                        deliver=False,
                    )
                )
            except AgentmuxError as exc:
                self.app.post_message(CoreFailed(f"new session: {exc.message}"))
                break
            self.app.post_message(StateChanged())
        for record in made:
            try:
                self.manager.deliver_prompt(record.id)
            except Exception as exc:  # a worker error must not take the TUI down
                self.app.post_message(CoreFailed(f"prompt for {record.name}: {exc}"))

    def _broadcast(self, request: BroadcastRequest, names: list[str]) -> None:
        try:
            to = ",".join(names) if request.to == "selected" else request.to
            reached = self.manager.broadcast(request.text.encode(), to)
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"broadcast: {exc.message}"))
            return
        self.app.post_message(Progress(f"sent to {len(reached)}: {', '.join(reached) or '-'}"))
