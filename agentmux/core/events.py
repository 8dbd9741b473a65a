"""Typed events the core reports outward: the CLI prints them, the UI makes messages of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SessionEvent:
    """Something that happened to one session."""

    name: str
    session_id: str


@dataclass(frozen=True)
class SessionCreated(SessionEvent):
    """Branch, worktree and record exist."""

    branch: str
    worktree: str


@dataclass(frozen=True)
class SessionQueued(SessionEvent):
    """No free slot: the session waits for one."""

    running: int
    limit: int


@dataclass(frozen=True)
class SessionStarted(SessionEvent):
    """The agent is running in its tmux session."""

    tmux_session_id: str
    pane_id: str


@dataclass(frozen=True)
class PromptDelivered(SessionEvent):
    """A prompt was typed into the agent."""

    size: int


@dataclass(frozen=True)
class PromptHeld(SessionEvent):
    """The agent is working: the prompt is kept and typed when it is idle again."""

    waiting: int  # held prompts of this session, this one included


@dataclass(frozen=True)
class PromptNotDelivered(SessionEvent):
    """The agent never became ready; the prompt stays pending."""

    reason: str


@dataclass(frozen=True)
class SessionExited(SessionEvent):
    """The agent process ended."""

    exit_status: int | None
    exit_signal: int | None


@dataclass(frozen=True)
class SessionStopped(SessionEvent):
    """``stop`` ended the agent or took the session off the queue."""


@dataclass(frozen=True)
class SessionLost(SessionEvent):
    """The tmux session vanished behind agentmux's back."""

    reason: str


@dataclass(frozen=True)
class SessionRemoved(SessionEvent):
    """The worktree is gone; work, if any, is kept on ``archive_ref`` and, for repositories
    nested in the worktree, on ``nested_refs``."""

    archive_ref: str | None
    nested_refs: tuple[str, ...] = ()
    #: nested repositories of which only the files are kept (shallow or partial clones)
    files_only: tuple[str, ...] = ()
    #: a plain directory at the worktree path, not the session's worktree, left as it was
    left_in_place: str | None = None


EventSink = Callable[[SessionEvent], None]


def ignore_events(_event: SessionEvent) -> None:
    """An event sink that drops everything."""
