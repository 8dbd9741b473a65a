"""What the cockpit says about its connections to other hosts: lost, back, or waiting for you.

Each host's panes come over their own connection (a tmux control client through the host's ssh
master), which reconnects by itself with backoff; this only tells the user, once per change, and
asks for a reconcile when a connection is back (its view may be new: windows are linked again).
A login that needs a person is said once, with what to run, and not retried in a loop.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App


class HostLinks:
    """The last state of each host's connection, and the notices its changes give."""

    def __init__(
        self,
        app: App[None],
        problem: Callable[[str], str | None],
        refresh: Callable[[], object],
    ) -> None:
        """``problem(host)`` is the host's last ssh failure as one sentence; ``refresh``
        reconciles again."""
        self.app = app
        self._problem = problem
        self._refresh = refresh
        self.states: dict[str, str] = {}

    def changed(self, host: str, state: str) -> None:
        """Host ``host``'s connection is now ``state`` (connected, disconnected, needs-login)."""
        before = self.states.get(host)
        self.states[host] = state
        if state == before:
            return
        if state == "disconnected" and before == "connected":
            self.app.notify(f"lost the connection to host {host}; reconnecting…", severity="error")
        elif state == "connected":
            if before in ("disconnected", "needs-login"):
                self.app.notify(f"reconnected to host {host}")
            # Also the first time: a connection slower than the listing that started it leaves
            # the host's panes unknown until the grid reconciles again.
            self._refresh()
        elif state == "needs-login":
            why = self._problem(host) or "logging in needs you"
            self.app.notify(f"host {host}: {why}", severity="error", timeout=30)
