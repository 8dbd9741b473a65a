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
that do (tmux | git); it imports only those and core's shared leaves. Only this package (and the
tmux package itself) imports :mod:`agentmux.core.tmux.server`; an import-linter contract holds it.
:class:`~agentmux.core.sessions.manager.SessionManager` and its collaborators reach tmux only
through ``manager.host`` (``manager.tmux`` is the local host's server, for tests and the TUI).

Not yet through the host (each reads this machine directly, as it did before):

- the TUI's screen mirror and control-mode client (:mod:`agentmux.core.tmux.mirror`,
  :mod:`agentmux.core.tmux.control`) open their own connection on ``host.socket``;
- the work the snapshot store and the conflict radar do in each worktree (``git status``,
  ``git add`` into a private index: :mod:`agentmux.core.git.snapshots`), and the radar's file
  watcher (:mod:`agentmux.core.git.radar_watch`); the host only hands out the store;
- removal's checks and archive (:mod:`agentmux.core.sessions.removal`: work at risk, nested
  repositories, the archive refs, processes in the worktree found and ended with psutil), the
  worktree checks before a commit or a resume, a session's diff (``git diff-tree`` there), and
  merges (plans read the worktrees' work in progress; ``merge --check`` makes its own worktree);
  creating the worktree root and checking that a new worktree's path is free;
- the transcript and rollout readers (:mod:`agentmux.core.metrics`), which read
  ``~/.claude``/``~/.codex`` (or where ``host.environ()`` points) on this machine;
- hook records: an agent's hooks run ``agentmux _hook`` on the host, which writes the state
  store named by ``AGENTMUX_STATE_DB`` in the agent's environment;
- ``agentmux doctor`` checks this machine's tmux through :mod:`agentmux.core.host.local`.
"""

from agentmux.core.host.protocol import LOCAL, Host, PaneInfo

__all__ = ["LOCAL", "Host", "PaneInfo"]
