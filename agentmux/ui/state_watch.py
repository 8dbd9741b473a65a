"""The state directory watched: another process (a CLI verb, an agent's hook, tmux's
``session-closed`` hook) changed agentmux's state, so the grid reconciles now rather than at its
next timed look.

The state directory is usually inside the repository's ``.git``, which watchfiles' default
filter ignores (every path there has a ``.git`` part), so the watch brings its own filter.
"""

from __future__ import annotations

import threading
from pathlib import Path

import watchfiles
from textual.app import App

from agentmux.ui.messages import StateChanged

#: What changes in the state directory without being a change of state: the radar's snapshot
#: objects (written on every scan).
NOT_STATE = ("snapshots",)


class StateFilter:
    """Changes under the state directory ``home`` that are changes of state."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, _change: watchfiles.Change, path: str) -> bool:
        """Whether a change to ``path`` changed agentmux's state."""
        try:
            parts = Path(path).relative_to(self.home).parts
        except ValueError:
            return True  # the directory itself
        return not parts or parts[0] not in NOT_STATE


def watch_state(app: App[None], home: Path, stop: threading.Event) -> None:
    """In a worker thread: post StateChanged whenever agentmux's state directory ``home``
    changes (coalesced), until ``stop``."""
    for _changes in watchfiles.watch(
        home,
        watch_filter=StateFilter(home),
        stop_event=stop,
        debounce=150,
        step=250,
        rust_timeout=1000,
        raise_interrupt=False,
    ):
        app.post_message(StateChanged())
