""":class:`LocalHost`: the machine agentmux itself runs on, the one kind of :class:`Host` today.

It composes what already does the work: :class:`~agentmux.core.tmux.server.TmuxServer` for tmux,
:mod:`agentmux.core.tmux.launch` for the pane's wrapper and its exit file, and the functions of
:mod:`agentmux.core.git` for worktrees and snapshots. It adds no behaviour of its own.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import (
    own_worktree,
    require_identity,
    unmergeable_work,
    work_in_progress,
)
from agentmux.core.git.safety import WorkAtRisk, work_at_risk
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.host import removal as worktree_removal
from agentmux.core.host import worktrees
from agentmux.core.host.protocol import LOCAL
from agentmux.core.host.work_commit import add_and_commit
from agentmux.core.paths import ensure_private_dir
from agentmux.core.records import SessionRecord
from agentmux.core.tmux import server as tmux
from agentmux.core.tmux.launch import pane_command, read_exit, write_env_file
from agentmux.core.tmux.orphans import adopt_orphans
from agentmux.core.tmux.server import (
    HIDDEN_PREFIX,
    MIN_TMUX,
    PaneInfo,
    TmuxServer,
    require_tmux,
    tmux_version,
)

if TYPE_CHECKING:
    # The TUI's watcher and mirror are imported where they are made: every CLI verb opens a
    # LocalHost, few of them watch or mirror anything.
    from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
    from agentmux.core.git.radar_watch import RadarWatcher
    from agentmux.core.tmux.control import Screen
    from agentmux.core.tmux.mirror import Mirror

__all__ = [
    "HIDDEN_PREFIX",
    "MIN_TMUX",
    "LocalHost",
    "PaneInfo",
    "TmuxServer",
    "require_tmux",
    "tmux_version",
]


class LocalHost:
    """This machine: agentmux's private tmux server on ``socket``, per-session files under
    ``files``, and the queue-tick script beside the socket (named for the repository's ``key``)."""

    def __init__(self, socket: Path, files: Path, key: str) -> None:
        self.server = TmuxServer(socket)
        self._files = files
        self._tick_script = socket.with_name(f"{key}.tick.sh")

    @classmethod
    def open(cls, socket: Path, files: Path, key: str) -> LocalHost:
        """A host on ``socket``, its directory made (private) if need be."""
        try:
            ensure_private_dir(socket.parent)
        except OSError as exc:
            raise AgentmuxError(f"cannot create {socket.parent}: {exc.strerror}.") from exc
        return cls(socket, files, key)

    @property
    def name(self) -> str:
        """``local``."""
        return LOCAL

    @property
    def socket(self) -> Path:
        """The socket of agentmux's private tmux server."""
        return self.server.socket_path

    @property
    def files(self) -> Path:
        """agentmux's directory of per-session files (exit and env files)."""
        return self._files

    @property
    def tick_script(self) -> Path:
        """The script a pane runs when its agent ends (agentmux's queue tick)."""
        return self._tick_script

    def _file(self, kind: str, session_id: str) -> Path:
        return ensure_private_dir(self._files / kind) / session_id

    # --- tmux ------------------------------------------------------------------------------------

    def tmux_version(self) -> tuple[int, int]:
        """The installed tmux version; one sentence when tmux is missing."""
        return tmux_version()

    def server_running(self) -> bool:
        """Whether agentmux's tmux server answers on its socket."""
        return self.server.is_running()

    def kill_server(self) -> None:
        """Stop agentmux's tmux server."""
        self.server.kill_server()

    def panes(self) -> list[PaneInfo]:
        """Every pane on the server with its tag (empty when the server is not running)."""
        return self.server.panes()

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
        ``session_id``, inside the wrapper of :mod:`agentmux.core.tmux.launch` (``env`` on top of
        this process's cleaned environment, passed in a private file)."""
        exit_file = self.exit_file(session_id)
        exit_file.unlink(missing_ok=True)
        env_file = self._file("env", session_id)
        write_env_file(env_file, {**tmux.clean_env(), **env})
        command = pane_command(argv, env_file, exit_file, self._tick_script)
        try:
            return self.server.new_session(
                name,
                cwd=worktree,
                command=command,
                agentmux_id=session_id,
                hooks=self._tick_hooks(repo_root),
            )
        except BaseException:
            env_file.unlink(missing_ok=True)
            raise

    def _tick_hooks(self, repo_root: Path) -> dict[str, str]:
        """Write the queue-tick script; return the tmux hook that runs it when a session closes.

        A pane's own wrapper runs the tick when its agent exits; the hook is a second chance for a
        tmux session killed from outside.
        """
        tick = self._tick_script
        script = (
            "#!/bin/sh\n"
            f"cd {shlex.quote(str(repo_root))} || exit 0\n"
            f"exec {shlex.quote(sys.executable)} -m agentmux _tick >/dev/null 2>&1\n"
        )
        current = tick.read_text() if tick.exists() else None
        if current != script:
            tmp = tick.with_name(f"{tick.name}.{os.getpid()}")
            tmp.write_text(script)
            tmp.chmod(0o700)
            tmp.replace(tick)
        return {"session-closed": "run-shell -b " + tmux.tmux_quote(f"sh {tick}")}

    def adopt_orphans(
        self, records: Iterable[SessionRecord], listing: Sequence[PaneInfo]
    ) -> list[tuple[SessionRecord, PaneInfo]]:
        """Tag the untagged agent panes that belong to ``records`` (see
        :mod:`agentmux.core.tmux.orphans`); the pairs tagged."""
        return adopt_orphans(self.server, records, listing)

    def paste(
        self, pane_id: str, data: bytes, *, tag: str, submit: bool, submit_delay: float
    ) -> bool:
        """Type ``data`` into the pane tagged ``tag`` (then Enter with ``submit``)."""
        return self.server.paste(pane_id, data, tag=tag, submit=submit, submit_delay=submit_delay)

    def send_keys_tagged(self, pane_id: str, tag: str, *keys: str) -> bool:
        """Send ``keys`` to the pane tagged ``tag`` only; whether it was that pane."""
        return self.server.send_keys_tagged(pane_id, tag, *keys)

    def capture_tagged(self, pane_id: str, tag: str) -> str | None:
        """The visible text of the pane tagged ``tag``; None when ``pane_id`` is not it."""
        return self.server.capture_tagged(pane_id, tag)

    def size_window(self, pane_id: str, tag: str, width: int, height: int) -> bool:
        """Fix the size of the window of the pane tagged ``tag``."""
        return self.server.size_window(pane_id, tag, width, height)

    def in_view_only(self, pane: PaneInfo) -> bool:
        """Whether ``pane`` is listed only in the TUI's view session (see
        :data:`~agentmux.core.tmux.server.HIDDEN_PREFIX`)."""
        return pane.session_name.startswith(HIDDEN_PREFIX)

    def kill_window_tagged(self, pane_id: str, tag: str) -> bool:
        """Kill the window of the pane tagged ``tag`` wherever it is linked."""
        return self.server.run_if_tagged(pane_id, tag, ["kill-window", "-t", pane_id])

    def kill_agent_session(self, pane: PaneInfo) -> None:
        """Kill the tmux session of a tagged agent pane, while tmux confirms its tag."""
        self.server.kill_agent_session(pane)

    def terminate_agent(self, pane: PaneInfo, is_dead: Callable[[], bool]) -> None:
        """End the agent process under a pane (SIGTERM, then SIGKILL) until ``is_dead``."""
        if pane.pane_pid is not None:
            tmux.terminate_tree(pane.pane_pid, is_dead)

    def mirror(
        self, on_screen: Callable[[Screen], None], on_state: Callable[[str], None]
    ) -> Mirror:
        """See :class:`agentmux.core.tmux.mirror.Mirror`."""
        from agentmux.core.tmux.mirror import Mirror  # noqa: PLC0415 - see the imports

        return Mirror(self.socket, on_screen, on_state)

    def attach_argv(self, session_id: str) -> list[str]:
        """argv of a full-screen ``tmux attach`` to a session."""
        return self.server.attach_argv(session_id)

    # --- git in the sessions' worktrees ----------------------------------------------------------

    def add_worktree(self, repo: git.Repo, path: Path, branch: str, base_commit: str) -> None:
        """``git worktree add`` of a new ``branch`` from ``base_commit`` at ``path``."""
        git.add_worktree(repo, path, branch, base_commit)

    def remove_worktree(self, repo: git.Repo, path: Path) -> None:
        """``git worktree remove`` of ``path``."""
        git.remove_worktree(repo, path)

    def is_worktree_of(self, repo: git.Repo, path: Path) -> bool:
        """Whether ``path`` is a worktree of ``repo``."""
        return git.is_worktree_of(repo, path)

    def radar_watcher(
        self, radar: ConflictRadar, repo: git.Repo, on_report: Callable[[ConflictReport], object]
    ) -> RadarWatcher:
        """See :class:`agentmux.core.git.radar_watch.RadarWatcher`."""
        from agentmux.core.git.radar_watch import RadarWatcher  # noqa: PLC0415 - see the imports

        return RadarWatcher(radar, repo.common_dir, on_report)

    def snapshots(self, repo: git.Repo) -> SnapshotStore:
        """The snapshot store in agentmux's directory (the conflict radar's and diffs')."""
        return SnapshotStore(repo, self._files / "snapshots")

    def commit_work(self, worktree: Path, message: str) -> tuple[str | None, tuple[str, ...]]:
        """``git add --all`` and ``git commit`` in ``worktree`` (see
        :mod:`agentmux.core.host.work_commit`)."""
        return add_and_commit(worktree, message)

    def own_worktree(self, path: Path) -> Path | None:
        """``path`` when it is the top of a git worktree of its own; else None."""
        return own_worktree(path)

    def work_in_progress(self, worktree: Path) -> list[str]:
        """The worktree's changed and untracked (not ignored) paths, each once."""
        return work_in_progress(worktree)

    def ready_for_commit(self, record: SessionRecord) -> Path:
        """See :func:`agentmux.core.host.worktrees.ready_for_commit`."""
        return worktrees.ready_for_commit(record)

    def checked_out_ref(self, worktree: Path) -> str | None:
        """The ref checked out in ``worktree``; None for a detached HEAD (or no worktree)."""
        return worktrees.checked_out_ref(worktree) if worktree.is_dir() else None

    def path_exists(self, path: Path) -> bool:
        """Whether anything is at ``path`` (a symbolic link counts)."""
        return path.exists() or path.is_symlink()

    def worktree_present(self, worktree: Path) -> bool:
        """Whether a directory is at the worktree's path."""
        return worktree.is_dir()

    def check_identity(self, repo: git.Repo, worktree: Path, *, what: str, retry: str) -> None:
        """See :func:`agentmux.core.git.merge.require_identity`."""
        require_identity(repo, what=what, retry=retry, cwd=worktree)

    def make_room(self, root: Path, worktree: Path) -> None:
        """See :func:`agentmux.core.host.worktrees.make_room`."""
        worktrees.make_room(root, worktree)

    def unmergeable_work(self, record: SessionRecord, committing: bool) -> str | None:
        """See :func:`agentmux.core.git.merge.unmergeable_work`."""
        return unmergeable_work(record, committing)

    def work_at_risk(self, repo: git.Repo, record: SessionRecord) -> WorkAtRisk:
        """What removing the session's worktree and branch would lose."""
        return work_at_risk(repo, record)

    def removal(
        self,
        repo: git.Repo,
        record: SessionRecord,
        *,
        force: bool,
        delete_branch: bool,
        merged: Callable[[WorkAtRisk], WorkAtRisk],
    ) -> AbstractContextManager[worktree_removal.Removal]:
        """See :func:`agentmux.core.host.removal.removal`."""
        return worktree_removal.removal(
            self, repo, record, force=force, delete_branch=delete_branch, merged=merged
        )

    def discard_new_worktree(self, repo: git.Repo, record: SessionRecord) -> str | None:
        """See :func:`agentmux.core.host.removal.discard_new_worktree`."""
        return worktree_removal.discard_new_worktree(self, repo, record)

    # --- files -----------------------------------------------------------------------------------

    def exit_file(self, session_id: str) -> Path:
        """Where a session's pane wrapper records how its agent ended."""
        return self._file("exit", session_id)

    def read_exit(self, session_id: str) -> tuple[int, int | None] | None:
        """How a session's agent ended, by its wrapper's record; None while it runs."""
        return read_exit(self.exit_file(session_id))

    def environ(self) -> dict[str, str]:
        """This process's environment, which the agents start from."""
        return dict(os.environ)
