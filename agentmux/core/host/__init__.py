"""Host: the machine a session runs on, behind one typed boundary.

:class:`~agentmux.core.host.protocol.Host` is everything the core does *on that machine*: its
tmux server (start an agent's session, list panes with their tags, paste and send keys, capture,
size, kill, attach, the server's socket, whether it runs), git in the sessions' worktrees
(worktree add, remove, is-worktree-of; the snapshot store of the radar and diffs; committing work
in progress) and its files (a session's exit and env files; the environment its agents start
from, which says where their transcripts are). :class:`~agentmux.core.host.local.LocalHost` is
the one implementation: it composes :class:`~agentmux.core.tmux.server.TmuxServer`,
:mod:`agentmux.core.tmux.launch` and :mod:`agentmux.core.git`, and adds no behaviour. Session
records name their host (``local`` for all today).

Layering: host sits between the rooms that decide (sessions > metrics > agents) and the ones
that do (tmux | git); it imports only those and core's shared leaves. Nothing above it imports
the modules that act on a machine (an import-linter contract names them: tmux.server, launch,
occupants, orphans, control, mirror; git.snapshots, safety, nested, radar_watch; host.local,
removal, work_commit), and ``tests/core/host/test_host_boundary.py`` checks that no code above it
runs git in a worktree or touches a worktree's files. :class:`SessionManager` builds the one
:class:`LocalHost`; ``doctor`` checks this machine's tmux.

By design some work runs *on* the host rather than across this boundary: the agents' hooks
(``agentmux _hook``) write the host's state store, and the transcript readers read the host's
files (see docs/architecture.md, "What runs on the host by design").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentmux.core.git.safety import WorkAtRisk
from agentmux.core.git.snapshots import Snapshot, SnapshotStore
from agentmux.core.host.protocol import LOCAL, Host, PaneInfo
from agentmux.core.tmux.control import Screen

if TYPE_CHECKING:
    from agentmux.core.git.radar_watch import RadarWatcher
    from agentmux.core.tmux.mirror import Mirror

# Imported on first use (PEP 562): the radar's watcher and the TUI's mirror (watchfiles, the
# conflict history, the control client) cost every CLI verb's start-up otherwise.
_LAZY = {
    "RadarWatcher": "agentmux.core.git.radar_watch",
    "Mirror": "agentmux.core.tmux.mirror",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "LOCAL",
    "Host",
    "Mirror",
    "PaneInfo",
    "RadarWatcher",
    "Screen",
    "Snapshot",
    "SnapshotStore",
    "WorkAtRisk",
]
