"""The :class:`Host` protocol: everything the core does on the machine where a session runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from agentmux.core.git.repo import Repo
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.records import LOCAL_HOST, SessionRecord
from agentmux.core.tmux.server import PaneInfo

__all__ = ["LOCAL", "Host", "PaneInfo"]

#: The name of the machine agentmux itself runs on, the one kind of host there is today.
LOCAL = LOCAL_HOST


class Host(Protocol):
    """A machine sessions run on: its tmux server, git in its worktrees, and its files.

    tmux objects are only ever acted on through tag-checked calls: a pane id alone never names an
    agent for sure (a restarted tmux server hands the same ids out again).
    """

    @property
    def name(self) -> str:
        """What session records call this host (``local``)."""
        ...

    @property
    def socket(self) -> Path:
        """The socket of agentmux's private tmux server on this host."""
        ...

    @property
    def files(self) -> Path:
        """agentmux's directory of per-session files on this host (exit and env files)."""
        ...

    @property
    def tick_script(self) -> Path:
        """The script a pane runs when its agent ends (agentmux's queue tick)."""
        ...

    # --- tmux ------------------------------------------------------------------------------------

    def tmux_version(self) -> tuple[int, int]:
        """The host's tmux version; one sentence when tmux is missing."""
        ...

    def server_running(self) -> bool:
        """Whether agentmux's tmux server answers on its socket."""
        ...

    def kill_server(self) -> None:
        """Stop agentmux's tmux server (once no agent is left on it)."""
        ...

    def panes(self) -> list[PaneInfo]:
        """Every pane on the server with its tag (empty when the server is not running)."""
        ...

    def start_agent(
        self,
        name: str,
        *,
        session_id: str,
        worktree: Path,
        argv: Sequence[str],
        env: Mapping[str, str],
        repo_root: Path,
    ) -> PaneInfo:
        """Start ``argv`` in ``worktree`` in a new tmux session ``name``, its pane tagged
        ``session_id``, with ``env`` on top of the host's environment; its exit is recorded in
        :meth:`exit_file` and runs the queue tick (in ``repo_root``). Nothing of it is left
        running when this fails."""
        ...

    def adopt_orphans(
        self, records: Iterable[SessionRecord], listing: Sequence[PaneInfo]
    ) -> list[tuple[SessionRecord, PaneInfo]]:
        """Tag the untagged agent panes that belong to ``records``; the pairs tagged."""
        ...

    def paste(
        self, pane_id: str, data: bytes, *, tag: str, submit: bool, submit_delay: float
    ) -> bool:
        """Type ``data`` into the pane tagged ``tag`` (then Enter with ``submit``); False, nothing
        typed, when ``pane_id`` is not that pane."""
        ...

    def send_keys_tagged(self, pane_id: str, tag: str, *keys: str) -> bool:
        """Send ``keys`` to the pane tagged ``tag`` only; whether it was that pane."""
        ...

    def capture_tagged(self, pane_id: str, tag: str) -> str | None:
        """The visible text of the pane tagged ``tag``; None when ``pane_id`` is not it."""
        ...

    def size_window(self, pane_id: str, tag: str, width: int, height: int) -> bool:
        """Fix the size of the window of the pane tagged ``tag``; whether it was that pane."""
        ...

    def in_view_only(self, pane: PaneInfo) -> bool:
        """Whether ``pane`` is listed only in the TUI's view session: its own tmux session was
        killed, and only the view still shows its window."""
        ...

    def kill_window_tagged(self, pane_id: str, tag: str) -> bool:
        """Kill the window of the pane tagged ``tag`` wherever it is linked."""
        ...

    def kill_agent_session(self, pane: PaneInfo) -> None:
        """Kill the tmux session of a tagged agent pane, while tmux confirms its tag."""
        ...

    def terminate_agent(self, pane: PaneInfo, is_dead: Callable[[], bool]) -> None:
        """End the agent process under a pane (SIGTERM, then SIGKILL) until ``is_dead``."""
        ...

    def attach_argv(self, session_id: str) -> list[str]:
        """argv of a full-screen attach to a tmux session of this host."""
        ...

    # --- git in the sessions' worktrees ----------------------------------------------------------

    def add_worktree(self, repo: Repo, path: Path, branch: str, base_commit: str) -> None:
        """Make a worktree at ``path`` on a new ``branch`` from ``base_commit``."""
        ...

    def remove_worktree(self, repo: Repo, path: Path) -> None:
        """Remove the worktree at ``path`` (never one a process is in: the caller checks)."""
        ...

    def is_worktree_of(self, repo: Repo, path: Path) -> bool:
        """Whether ``path`` is a worktree of ``repo``."""
        ...

    def snapshots(self, repo: Repo) -> SnapshotStore:
        """The store of snapshots of work in progress (the conflict radar's and diffs')."""
        ...

    def commit_work(self, worktree: Path, message: str) -> tuple[str | None, tuple[str, ...]]:
        """``git add --all`` and ``git commit`` in ``worktree``: the new commit (None when there
        was nothing to commit) and the nested repositories with no commit yet, left out."""
        ...

    # --- files -----------------------------------------------------------------------------------

    def exit_file(self, session_id: str) -> Path:
        """Where a session's pane wrapper records how its agent ended."""
        ...

    def read_exit(self, session_id: str) -> tuple[int, int | None] | None:
        """``(exit status, signal or None)`` of a session's agent, or None while it runs."""
        ...

    def environ(self) -> dict[str, str]:
        """The environment agents start from on this host: it says where their transcripts are
        (``HOME``, ``CLAUDE_CONFIG_DIR``, ``CODEX_HOME``)."""
        ...
