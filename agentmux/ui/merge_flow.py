"""The merge dialogue (`m` in the grid, `m` in a session's review): plan off the loop, offer to
commit work in progress first when a candidate has some, show the plan, land it only on yes, then
offer to remove the merged sessions.

The app owns one :class:`MergeFlow` and hands it the messages below; planning and landing run in
thread workers that only post messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from rich.markup import escape
from textual.app import App
from textual.message import Message

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.merge import MergePlan, describe_plan
from agentmux.core.sessions.commit_work import uncommitted_files
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.messages import CoreFailed, StateChanged
from agentmux.ui.modals import ConfirmScreen


class MergePlanned(Message):
    """A merge plan is ready to be shown before anything lands. ``wip`` names the sessions it
    left out that have work in progress (and how many files), when it was planned without
    committing that work."""

    def __init__(
        self, plan: MergePlan, names: list[str] | None, wip: dict[str, int] | None = None
    ) -> None:
        super().__init__()
        self.plan = plan
        self.names = names
        self.wip = wip or {}


class MergeLanded(Message):
    """A merge plan landed on its base branch."""

    def __init__(self, plan: MergePlan, untold: list[str] | None = None) -> None:
        super().__init__()
        self.plan = plan
        #: A sentence for each host not told that its session was merged (see land_merge).
        self.untold = untold or []


def wip_question(wip: dict[str, int]) -> str:
    """The offer to commit the sessions' work in progress before planning (markup escaped)."""
    listed = ", ".join(f"{escape(name)} ({files} file(s))" for name, files in wip.items())
    count = len(wip)
    who = "1 session has" if count == 1 else f"{count} sessions have"
    return (
        f"{who} uncommitted work: {listed}.\n\n"
        "Commit it on their own branches first, then plan the merge? The commits stay even if "
        "the merge is not landed. (No: plan without them.)"
    )


class MergeFlow:
    """Plan, show and land a merge of some sessions (every live one, or those named)."""

    def __init__(
        self, app: App[None], manager: SessionManager, remove: Callable[[str], object]
    ) -> None:
        self.app = app
        self.manager = manager
        self.remove = remove
        self._landed_hook: Callable[[], None] | None = None

    def start(self, names: Sequence[str] | None, landed: Callable[[], None] | None = None) -> None:
        """Plan a merge of ``names`` (None: every session) off the loop; ``landed`` is called
        after it lands."""
        self._landed_hook = landed
        self.app.notify("planning the merge…", timeout=3)
        self._plan(list(names) if names is not None else None, commit=False)

    def _plan(self, names: list[str] | None, *, commit: bool) -> None:
        work = partial(self._plan_in_thread, names, commit)
        self.app.run_worker(work, thread=True, exclusive=True, group="merge")

    def _plan_in_thread(self, names: list[str] | None, commit: bool) -> None:
        try:
            plan = self.manager.merge_plan(names, commit=commit)
            wip: dict[str, int] = {}
            if not commit:
                for left in plan.left_out:
                    try:
                        files = uncommitted_files(self.manager, left.name)
                    except AgentmuxError:
                        continue  # its worktree is missing: the plan already says why
                    if files:
                        wip[left.name] = files
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"merge: {exc.message}"))
            return
        except Exception as exc:  # a worker error must not take the TUI down
            self.app.post_message(CoreFailed(f"merge failed: {exc}"))
            return
        self.app.post_message(MergePlanned(plan, names, wip))
        if commit and plan.committed:
            self.app.post_message(StateChanged())

    def planned(self, message: MergePlanned) -> None:
        """A plan arrived: offer to commit work in progress first, else show the plan."""
        if not message.wip:
            self._show(message.plan)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.notify("committing work in progress, then planning…", timeout=3)
                self._plan(message.names, commit=True)
            else:
                self._show(message.plan)

        self.app.push_screen(ConfirmScreen(wip_question(message.wip)), answer)

    def _show(self, plan: MergePlan) -> None:
        """Show the plan; land it only on yes."""
        text = "\n".join(escape(line) for line in describe_plan(plan))
        if not plan.steps:
            self.app.notify(text, severity="warning", timeout=10)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                work = partial(self._land_in_thread, plan)
                self.app.run_worker(work, thread=True, exclusive=True, group="merge")

        question = f"{text}\n\nLand it? {escape(plan.into)} moves in one step, or not at all."
        self.app.push_screen(ConfirmScreen(question), answer)

    def _land_in_thread(self, plan: MergePlan) -> None:
        try:
            untold = self.manager.land_merge(plan)
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"merge: {exc.message}"))
            return
        except Exception as exc:  # a worker error must not take the TUI down
            self.app.post_message(CoreFailed(f"merge failed: {exc}"))
            return
        self.app.post_message(MergeLanded(plan, untold))
        self.app.post_message(StateChanged())

    def landed(self, message: MergeLanded) -> None:
        """Say what landed; offer to remove the merged sessions (the core's safety rules hold)."""
        plan = message.plan
        names = [s.name for s in plan.steps]
        self.app.notify(f"merged {', '.join(names)} into {plan.into}", timeout=10)
        for note in message.untold:
            self.app.notify(escape(note), severity="warning", timeout=15)
        hook, self._landed_hook = self._landed_hook, None
        if hook is not None:
            hook()

        def answer(yes: bool | None) -> None:
            if yes:
                for name in names:
                    self.remove(name)

        listed = escape(", ".join(names))
        self.app.push_screen(
            ConfirmScreen(f"Remove the merged session(s) {listed}? Running agents are kept."),
            answer,
        )
