"""What every verb shares: the consoles, progress lines for core events, opening a repository."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from agentmux.core.events import (
    PromptDelivered,
    PromptHeld,
    PromptNotDelivered,
    SessionEvent,
    SessionExited,
    SessionLost,
    SessionQueued,
    SessionRemoved,
    SessionStarted,
    SessionStopped,
)
from agentmux.core.sessions import SessionManager

# Sentences are never wrapped mid-line; tables get room when the output is not a terminal.
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def report(event: SessionEvent) -> None:
    """Print core events as short progress lines on stderr."""
    if isinstance(event, SessionStarted):
        err.print(f"[green]started[/] {event.name} (tmux {event.tmux_session_id} {event.pane_id})")
    elif isinstance(event, SessionQueued):
        err.print(
            f"[yellow]queued[/] {event.name}: {event.running} of {event.limit} slots busy; "
            "it starts when one frees"
        )
    elif isinstance(event, PromptHeld):
        err.print(
            f"[yellow]held[/] for {event.name}: it is working; the prompt is typed when it is "
            f"idle ({event.waiting} waiting)"
        )
    elif isinstance(event, PromptDelivered):
        err.print(f"[green]prompt delivered[/] to {event.name} ({event.size} bytes)")
    elif isinstance(event, PromptNotDelivered):
        err.print(
            f"[red]prompt not delivered[/] to {event.name}: {event.reason}; "
            f"send it with `agentmux send {event.name} ...`"
        )
    elif isinstance(event, SessionExited):
        err.print(f"{event.name} exited ({exit_text(event.exit_status, event.exit_signal)})")
    elif isinstance(event, SessionLost):
        err.print(f"[red]lost[/] {event.name}: {event.reason}")
    elif isinstance(event, SessionStopped):
        err.print(f"stopped {event.name}")
    elif isinstance(event, SessionRemoved):
        err.print(f"removed {event.name}{removed_detail(event)}")


def removed_detail(event: SessionRemoved) -> str:
    """Every ref ``rm`` made, and what it left where."""
    detail = f"; its work is kept on {event.archive_ref}" if event.archive_ref else ""
    if event.nested_refs:
        detail += f", its nested repositories' work on {', '.join(event.nested_refs)}"
    if event.files_only:
        detail += f" (only the files of {', '.join(event.files_only)}: shallow or partial clones)"
    if event.left_in_place:
        detail += (
            f"; left {event.left_in_place} in place with its files (it is a plain directory, "
            "not the session's git worktree)"
        )
    return detail


def exit_text(status: int | None, signal: int | None) -> str:
    """How an agent process ended, in words."""
    if signal:
        return f"signal {signal}"
    return f"status {status}" if status is not None else "status unknown"


def open_manager(quiet: bool = False) -> SessionManager:
    """The repository around the current directory, printing core events unless ``quiet``."""
    return SessionManager.open(Path.cwd(), on_event=(lambda _e: None) if quiet else report)
