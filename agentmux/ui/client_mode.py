"""What this cockpit may do: in a browser (``agentmux serve``) and read-only (``serve
--read-only``).

The app asks :meth:`ClientMode.allows` for every action (Textual's ``check_action``), the screens
with actions of their own too, and the command palette offers only what is allowed; a refused
action is hidden from the footer. The session manager is made read-only as well, so a path that
slips by still changes nothing (:attr:`agentmux.core.sessions.manager.SessionManager.read_only`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass

from textual.app import App

#: Actions that change something: type into an agent, start, prompt, stop, remove, resume,
#: commit or merge sessions, or hand the terminal to an agent (attach).
CHANGES = frozenset(
    {
        "insert",
        "new",
        "broadcast",
        "stop",
        "remove",
        "resume",
        "resume_lost",
        "merge",
        "commit",
        "attach",
    }
)
#: Actions that need a real terminal: a full-screen tmux attach.
NEEDS_TERMINAL = frozenset({"attach"})
READ_ONLY_NOTICE = "read-only: you see every session; nothing typed or done here reaches an agent"


@dataclass(frozen=True)
class ClientMode:
    """Where the cockpit runs and what it may do."""

    web: bool = False
    read_only: bool = False

    def allows(self, action: str) -> bool:
        """Whether ``action`` (an action name, without its namespace) may run here."""
        if self.read_only and action in CHANGES:
            return False
        return not (self.web and action in NEEDS_TERMINAL)

    def why_not(self, action: str) -> str:
        """One sentence on why ``action`` is refused."""
        if self.read_only and action in CHANGES:
            return f"read-only: {action.replace('_', ' ')} is not offered here"
        return f"{action} needs a terminal: run `agentmux attach NAME` in one"


def exit_with_server(app: App[None], every: float = 1.0) -> None:
    """In a browser tab's TUI: quit once the server that started it is gone (killed with
    ``kill -9``, it could not end its TUIs): nobody can see or drive this one any more. The
    agents keep running; if the app cannot quit within 3 s, the process ends anyway."""
    server = os.getppid()

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(every)
        deadline = threading.Timer(3.0, os._exit, (0,))
        deadline.daemon = True  # a clean exit does not wait for it
        deadline.start()
        with contextlib.suppress(RuntimeError):  # the app has stopped meanwhile
            app.call_from_thread(app.exit)

    threading.Thread(target=watch, name="agentmux-web-server-watch", daemon=True).start()


def mode_of(app: App[object]) -> ClientMode:
    """The mode of ``app`` (a full one for an app that has none)."""
    mode = getattr(app, "client_mode", None)
    return mode if isinstance(mode, ClientMode) else ClientMode()
