"""Resuming sessions from the TUI: the offer, once per start, to resume the sessions a tmux
restart (a reboot) lost; `r` for the focused session; the palette's entries.

The resume itself is the core's (:func:`agentmux.core.sessions.resume.resume_sessions`), run in a
thread worker that only posts messages; each outcome is one notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from rich.markup import escape
from textual.app import App
from textual.message import Message
from textual.notifications import SeverityLevel

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.remote_sessions import resume_outcome
from agentmux.core.sessions.resume import ResumeOutcome, resume_sessions
from agentmux.ui.messages import CoreFailed, SessionView, StateChanged
from agentmux.ui.modals import ConfirmScreen

SEVERITY: dict[str, SeverityLevel] = {
    "resumed": "information",
    "queued": "information",
    "fresh": "warning",
    "refused": "error",
}


class SessionsResumed(Message):
    """The core resumed (or refused) the sessions asked for."""

    def __init__(self, outcomes: list[ResumeOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


def lost_names(sessions: Sequence[SessionView]) -> list[str]:
    """The sessions whose tmux session is gone, here or on their host (one that rebooted)."""
    return [v.record.name for v in sessions if v.record.status is Status.LOST]


def offer_text(names: Sequence[str]) -> str:
    """The question asked once per start when sessions were lost (markup escaped)."""
    listed = escape(", ".join(names))
    who = "1 session was" if len(names) == 1 else f"{len(names)} sessions were"
    them = "it" if len(names) == 1 else "them all"
    return (
        f"{who} lost (the tmux server restarted, or the machine did): {listed}.\n\n"
        f"Resume {them}? Each continues its own conversation, in its own worktree and branch "
        "(queued past max_sessions). No: they stay lost; r resumes one later."
    )


class ResumeFlow:
    """Offer to resume lost sessions once, and resume the sessions asked for."""

    def __init__(self, app: App[None], manager: SessionManager) -> None:
        self.app = app
        self.manager = manager
        self.offered = False

    def offer_once(self, sessions: Sequence[SessionView]) -> None:
        """On the first session list of this TUI start: if sessions were lost, offer to resume
        them all (never again until the next start, whatever the answer)."""
        if self.offered:
            return
        self.offered = True
        names = lost_names(sessions)
        if not names:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.resume(names)

        self.app.push_screen(ConfirmScreen(offer_text(names)), answer)

    def resume(self, names: Sequence[str]) -> None:
        """Resume ``names`` off the loop; each outcome is notified."""
        if not names:
            self.app.notify("no session is lost")
            return
        self.app.notify(f"resuming {', '.join(names)}…", timeout=3)
        work = partial(self._resume_in_thread, list(names))
        self.app.run_worker(work, thread=True, group="resume")

    def _resume_in_thread(self, names: list[str]) -> None:
        try:
            elsewhere = [n for n in names if self.manager.runs_elsewhere(n)]
            here = [n for n in names if n not in elsewhere]
            outcomes = resume_sessions(self.manager, here) if here else []
            if elsewhere:  # each by its host's own resume, as `agentmux resume` does
                rows = self.manager.remote.resume(elsewhere)
                outcomes += [resume_outcome(row) for row in rows]
        except Exception as exc:  # a worker error must not take the TUI down
            message = getattr(exc, "message", None) or str(exc)
            self.app.post_message(CoreFailed(f"resume: {message}"))
        else:
            self.app.post_message(SessionsResumed(outcomes))
        self.app.post_message(StateChanged())

    def resumed(self, message: SessionsResumed) -> None:
        """One notification per session, in the core's words."""
        for outcome in message.outcomes:
            severity = SEVERITY.get(outcome.outcome, "information")
            self.app.notify(outcome.message, severity=severity, timeout=10)
