"""Messages the UI receives from the core bridge (facts, in the past tense)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from agentmux.core.git.conflicts import ConflictReport
from agentmux.core.host import Screen
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.records import SessionRecord


class OutputUpdated(Message):
    """A pane's screen changed."""

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.screen = screen


@dataclass(frozen=True)
class SessionView:
    """What the UI shows about one session."""

    record: SessionRecord
    idle_seconds: float | None
    waiting: bool = False


class SessionsRefreshed(Message):
    """The session list was reconciled with tmux."""

    def __init__(self, sessions: list[SessionView]) -> None:
        super().__init__()
        self.sessions = sessions


class ConnectionChanged(Message):
    """A tmux control connection (this machine's, or a host's) went up or down."""

    def __init__(self, state: str, host: str = "local") -> None:
        super().__init__()
        self.state = state
        self.host = host


class StateChanged(Message):
    """Something in agentmux's state directory changed (any agentmux process, any agent)."""


class Progress(Message):
    """A core operation moved on; one short sentence for the user."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class CoreFailed(Message):
    """A core operation failed with a one-sentence reason."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ConflictsUpdated(Message):
    """The conflict radar has a new answer."""

    def __init__(self, report: ConflictReport) -> None:
        super().__init__()
        self.report = report


class MetricsUpdated(Message):
    """Fresh per-session metrics (spend, failures, queue wait), and sessions a budget stopped."""

    def __init__(self, metrics: list[SessionMetrics], stopped: list[str]) -> None:
        super().__init__()
        self.metrics = metrics
        self.stopped = stopped


class TranscriptsChanged(Message):
    """An agent wrote to its transcript (or a new one appeared): spend may have changed."""
