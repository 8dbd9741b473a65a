"""The :class:`Host` protocol: everything the core does on the machine where a session runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agentmux.core.git.repo import Repo
from agentmux.core.git.safety import WorkAtRisk
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.records import LOCAL_HOST, SessionRecord
from agentmux.core.tmux.server import PaneInfo

if TYPE_CHECKING:
    from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
    from agentmux.core.git.radar_watch import RadarWatcher
    from agentmux.core.host.removal import Removal
    from agentmux.core.tmux.control import Screen
    from agentmux.core.tmux.mirror import Mirror

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

    def mirror(
        self, on_screen: Callable[[Screen], None], on_state: Callable[[str], None]
    ) -> Mirror:
        """Live screens of this host's agent panes, over one control-mode connection (not yet
        started), and the controls the TUI applies to them."""
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

    def radar_watcher(
        self, radar: ConflictRadar, repo: Repo, on_report: Callable[[ConflictReport], object]
    ) -> RadarWatcher:
        """A watcher (not yet started) that rescans ``radar`` when a session's worktree, or the
        repository, changes on this host."""
        ...

    def snapshots(self, repo: Repo) -> SnapshotStore:
        """The store of snapshots of work in progress (the conflict radar's and diffs')."""
        ...

    def commit_work(self, worktree: Path, message: str) -> tuple[str | None, tuple[str, ...]]:
        """``git add --all`` and ``git commit`` in ``worktree``: the new commit (None when there
        was nothing to commit) and the nested repositories with no commit yet, left out."""
        ...

    def own_worktree(self, path: Path) -> Path | None:
        """``path`` when it is the top of a git worktree of its own; else None."""
        ...

    def work_in_progress(self, worktree: Path) -> list[str]:
        """The worktree's changed and untracked (not ignored) paths, each once."""
        ...

    def ready_for_commit(self, record: SessionRecord) -> Path:
        """The session's worktree, ready for a commit; one sentence when it is missing, in the
        middle of a merge or rebase, or has another branch checked out."""
        ...

    def checked_out_ref(self, worktree: Path) -> str | None:
        """The ref checked out in ``worktree``; None for a detached HEAD (or no worktree)."""
        ...

    def path_exists(self, path: Path) -> bool:
        """Whether anything is at ``path`` on this host (a symbolic link counts)."""
        ...

    def worktree_present(self, worktree: Path) -> bool:
        """Whether a directory is at the worktree's path on this host."""
        ...

    def check_identity(self, repo: Repo, worktree: Path, *, what: str, retry: str) -> None:
        """Refuse, with how to fix it, when git in ``worktree`` has no identity to commit with
        (a worktree may have its own ``user.*`` configuration)."""
        ...

    def make_room(self, root: Path, worktree: Path) -> None:
        """Check a new worktree's path is free and make its parent ``root``."""
        ...

    def unmergeable_work(self, record: SessionRecord, committing: bool) -> str | None:
        """Why the session's worktree keeps it from being merged now (mid-merge or rebase,
        uncommitted work unless ``committing``), or None."""
        ...

    def work_at_risk(self, repo: Repo, record: SessionRecord) -> WorkAtRisk:
        """What removing the session's worktree and branch would lose."""
        ...

    def removal(
        self,
        repo: Repo,
        record: SessionRecord,
        *,
        force: bool,
        delete_branch: bool,
        merged: Callable[[WorkAtRisk], WorkAtRisk],
    ) -> AbstractContextManager[Removal]:
        """A removal of the session's worktree (and branch) in an order that never loses work:
        checks, then archive, then delete (see :mod:`agentmux.core.host.removal`)."""
        ...

    def discard_new_worktree(self, repo: Repo, record: SessionRecord) -> str | None:
        """Remove the worktree and branch of a session created moments ago; why not, or None."""
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
