"""Which tmux socket a repository's sessions live on, and when that choice is kept.

The path comes from the environment (``AGENTMUX_SOCKET_DIR``, ``XDG_RUNTIME_DIR``), which differs
between a desktop login, ssh and cron: a different path would hide running agents. So the path a
session has started on is saved in the state store and used from then on, whatever the
environment says. Only a path that worked is saved: one that failed (too long, say) must never
stick.
"""

from __future__ import annotations

from pathlib import Path

from agentmux.core.paths import SOCKET_META, fits_socket, socket_path
from agentmux.core.state import StateStore


class SocketPin:
    """The socket path in use for one repository, and whether it is saved yet."""

    def __init__(self, store: StateStore, key: str) -> None:
        self._store = store
        saved = store.get_meta(SOCKET_META)
        self.path = socket_path(key, saved)
        self.saved = saved == str(self.path)

    def worked(self) -> None:
        """A session has started on the path: keep it for the repository."""
        if not self.saved:
            self._store.set_meta(SOCKET_META, str(self.path))
            self.saved = True

    def saved_elsewhere(self) -> Path | None:
        """The path another process saved since this one chose (two first uses at once, with
        different environments), to be used instead so both see the same agents; else None."""
        if self.saved:
            return None
        saved = self._store.get_meta(SOCKET_META)
        if saved is None or not fits_socket(saved):
            return None
        self.path, self.saved = Path(saved), True
        return self.path
