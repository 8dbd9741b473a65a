"""Which cockpit sizes the agents' windows when several are open (a terminal TUI, browser tabs).

Each cockpit keeps every agent's tmux window at the size of that agent's cell in its grid. Two
cockpits with different cells would take the windows from each other; the rule is tmux's own
``window-size latest``: **the cockpit used most recently sets the sizes**. A key, a click, the
window (or the browser tab) getting the focus or being resized, and a cockpit starting, make it
the latest; the others then leave the windows alone, and show the agents' screens at the size
the latest one gave them (cut or padded), until they are used again. When the latest cockpit
quits (or is killed), another one takes the sizes over within a second. A read-only cockpit
never sizes a window.

The latest cockpit's id is kept in a small file beside the repository's tmux socket (one per
tmux server, in agentmux's private socket directory): written atomically, read on each use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


class SizeRule:
    """Whether this cockpit sets the agents' window sizes now, and taking that over on use."""

    def __init__(self, marker: Path, *, passive: bool = False) -> None:
        """``marker`` is the file shared by the cockpits of one tmux server; a ``passive``
        cockpit (read-only) never sets sizes."""
        self.marker = marker
        self.passive = passive
        self.me = f"{os.getpid()}-{secrets.token_hex(4)}"

    def _holder(self) -> str | None:
        """The latest cockpit's id; None when none holds the sizes, or its process is gone (a
        cockpit killed with ``kill -9`` never released them)."""
        try:
            holder = self.marker.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        pid = holder.partition("-")[0]
        if holder == self.me or not pid.isdigit():
            return holder or None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass  # alive, another user's (EPERM)
        return holder

    def sets_sizes(self) -> bool:
        """Whether this cockpit sizes the windows now: it was used last (or nobody claimed)."""
        if self.passive:
            return False
        holder = self._holder()
        return holder is None or holder == self.me

    def claim(self) -> bool:
        """This cockpit was just used: it sets the sizes from now on. True when it took them over
        from another cockpit (the caller sizes every window again)."""
        if self.passive or self._holder() == self.me:
            return False
        partial = self.marker.with_name(f"{self.marker.name}.{self.me}")
        try:
            partial.write_text(self.me, encoding="ascii")
            partial.replace(self.marker)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return False
        return True

    def claim_if_free(self) -> bool:
        """Take the sizes over if no cockpit holds them (the latest one quit): one of the
        cockpits left wins, atomically. True when this one did."""
        if self.passive or self._holder() is not None:
            return False
        if self.marker.exists():  # held by a cockpit that is gone: the last to write wins
            return self.claim() and self._holder() == self.me
        try:
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return False
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(self.me)
        return True

    def release(self) -> None:
        """This cockpit quits: the sizes are free for the others."""
        if not self.passive and self._holder() == self.me:
            with contextlib.suppress(OSError):
                self.marker.unlink()
