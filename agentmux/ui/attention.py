"""Who is waiting for you: from the agent's own hook events when it reports them, else from the
question on the bottom of its screen; and how the user is told (a notification, then the bell or
a desktop notification, as configured).

:class:`Attention` holds no widget. The grid (:mod:`agentmux.ui.panes`) asks it about each new
screen, the metrics view (:mod:`agentmux.ui.metrics_view`) hands it each session's reported
activity; both relabel their panes when it says a session started or stopped waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual.app import App

from agentmux.core.agents.attention import is_waiting
from agentmux.core.agents.profiles import all_profiles
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.records import SessionRecord
from agentmux.core.sessions.manager import SessionManager


class Attention:
    """The sessions waiting for you, and since when."""

    def __init__(self, app: App[None], manager: SessionManager) -> None:
        self.app = app
        self.manager = manager
        #: Session id -> monotonic time it began waiting for you.
        self.waiting_since: dict[str, float] = {}
        self._profiles = all_profiles(manager.config)
        # Sessions whose agent reported its activity in the latest metrics: for them the screen
        # is not read for a question.
        self._reporting: set[str] = set()

    def is_waiting(self, session_id: str) -> bool:
        """Whether the session is waiting for you now."""
        return session_id in self.waiting_since

    def reporting(self, metrics: Iterable[SessionMetrics]) -> None:
        """The latest metrics: which agents report their own activity through hooks."""
        self._reporting = {m.record.id for m in metrics if m.activity.known}

    def follow_activity(self, m: SessionMetrics) -> bool:
        """Waiting for you (a question, a failure), from the agent's own events when it reports
        them; an agent idle after a finished turn is idle, not marked. True when it changed."""
        act = m.activity
        sid = m.record.id
        if not act.known or act.needs_answer == (sid in self.waiting_since):
            return False
        if act.needs_answer:
            self.waiting_since[sid] = time.monotonic() - (act.waiting_current or 0.0)
            self.app.notify(f"{m.record.name} is waiting for you", severity="warning", timeout=10)
            self.signal(f"agentmux: {m.record.name} is waiting for you")
        else:
            self.waiting_since.pop(sid, None)
        return True

    def check_screen(self, record: SessionRecord, rows: tuple[str, ...]) -> bool:
        """An agent without hooks: its question on the bottom of its screen. True when it
        started or stopped waiting."""
        if record.id in self._reporting:
            return False  # the agent reports its own state through hooks: the screen is a fallback
        profile = self._profiles.get(record.agent)
        waiting = profile is not None and is_waiting(profile, rows)
        if waiting == (record.id in self.waiting_since):
            return False
        if waiting:
            self.waiting_since[record.id] = time.monotonic()
            self.app.notify(f"{record.name} is waiting for you", severity="warning", timeout=10)
            self.signal(f"agentmux: {record.name} is waiting for you")
        else:
            self.waiting_since.pop(record.id, None)
        return True

    def signal(self, text: str) -> None:
        """Get the user's attention the configured way: bell, or a desktop notification."""
        how = self.manager.config.attention
        if how == "bell":
            self.app.bell()
        elif how in ("osc9", "osc777") and self.app._driver is not None:
            clean = "".join(ch for ch in text if ch.isprintable() and ch != ";")
            # OSC 9 (iTerm2, WezTerm, Windows Terminal) and OSC 777 (urxvt, foot, kitty). Textual
            # has no public call for them; it writes its own OSC 52 the same way.
            sequence = (
                f"\x1b]9;{clean}\x07"
                if how == "osc9"
                else (f"\x1b]777;notify;agentmux;{clean}\x07")
            )
            self.app._driver.write(sequence)
