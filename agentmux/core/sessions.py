"""Agent sessions: each a branch, a worktree and a tmux session, recorded in the state store.

:class:`SessionManager` is the one entry point the CLI and the UI use. Every operation that starts
or removes sessions holds the repository lock, so two agentmux processes cannot exceed the
concurrency limit or start a queued session twice.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentmux.core import git
from agentmux.core.agents import AgentProfile, all_profiles, ready_regex, resolve_profile
from agentmux.core.config import Config, load_config
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import (
    EventSink,
    PromptDelivered,
    PromptNotDelivered,
    SessionCreated,
    SessionEvent,
    SessionExited,
    SessionLost,
    SessionQueued,
    SessionRemoved,
    SessionStarted,
    SessionStopped,
    ignore_events,
)
from agentmux.core.launch import pane_command, read_exit
from agentmux.core.locking import repo_lock
from agentmux.core.names import next_free_name, validate_name
from agentmux.core.paths import data_dir, ensure_private_dir, repo_key, socket_dir
from agentmux.core.prompts import sanitize_prompt
from agentmux.core.records import SessionRecord, Status
from agentmux.core.state import StateStore
from agentmux.core.tmux import PaneInfo, TmuxServer, require_tmux, terminate_tree

BRANCH_PREFIX = "agentmux/"
ARCHIVE_PREFIX = "refs/agentmux/archive/"
READY_POLL_SECONDS = 0.1
# Without a ready pattern, an agent is ready once its screen has shown something and then
# stayed unchanged this long.
SETTLE_SECONDS = 0.8


@dataclass(frozen=True)
class WorkAtRisk:
    """What removing a session's worktree would lose."""

    dirty_paths: list[str]
    unmerged_commits: list[str]
    base: str

    @property
    def empty(self) -> bool:
        """Nothing would be lost."""
        return not self.dirty_paths and not self.unmerged_commits

    def describe(self) -> str:
        """A clause naming what is at risk."""
        parts: list[str] = []
        if self.dirty_paths:
            shown = ", ".join(self.dirty_paths[:3]) + (" ..." if len(self.dirty_paths) > 3 else "")
            parts.append(f"{len(self.dirty_paths)} uncommitted or untracked path(s) ({shown})")
        if self.unmerged_commits:
            parts.append(f"{len(self.unmerged_commits)} commit(s) not in {self.base}")
        return " and ".join(parts)


class SessionManager:
    """Creates, tracks, stops and removes the agent sessions of one repository."""

    def __init__(
        self,
        repo: git.Repo,
        config: Config,
        *,
        on_event: EventSink = ignore_events,
    ) -> None:
        self.repo = repo
        self.config = config
        self.on_event = on_event
        self.home = ensure_private_dir(repo.common_dir / "agentmux")
        self.store = StateStore(self.home / "state.db")
        key = repo_key(repo.common_dir)
        ensure_private_dir(socket_dir())
        self.tmux = TmuxServer(socket_dir() / f"{key}.sock")
        self._tick_script = socket_dir() / f"{key}.tick.sh"
        self._lock_path = self.home / "lock"
        self.worktree_root = self._worktree_root(key)

    @classmethod
    def open(cls, cwd: Path, *, on_event: EventSink = ignore_events) -> SessionManager:
        """Open the repository containing ``cwd``, checking tmux, git and config first."""
        require_tmux()
        repo = git.discover_repo(cwd)
        return cls(repo, load_config(repo.root), on_event=on_event)

    def close(self) -> None:
        """Release the state store."""
        self.store.close()

    def _worktree_root(self, key: str) -> Path:
        if self.config.worktree_root:
            text = self.config.worktree_root.replace("{repo}", self.repo.name)
            root = Path(text).expanduser()
            return root if root.is_absolute() else (self.repo.root / root).resolve()
        return data_dir() / "worktrees" / f"{self.repo.name}-{key[:8]}"

    def _emit(self, event: SessionEvent) -> None:
        self.on_event(event)

    # --- queries ---------------------------------------------------------------------------------

    def sessions(self, include_removed: bool = False) -> list[SessionRecord]:
        """Sessions as recorded (call :meth:`reconcile` first for the live truth)."""
        return self.store.sessions(include_removed)

    def get(self, name: str) -> SessionRecord:
        """The live session called ``name``, or a one-sentence error."""
        validate_name(name)
        record = self.store.session_by_name(name)
        if record is None:
            raise AgentmuxError(f"there is no session named {name!r} (see `agentmux ls`).")
        return record

    def panes_by_session(self, *, settle: bool = False) -> dict[str, PaneInfo]:
        """tmux panes keyed by the agentmux session id they belong to.

        With ``settle``, wait (a few seconds at most) until every pane that just died has its exit
        status, so an exit is never recorded as "status unknown" only because tmux was busy.
        """
        panes = {pane.agentmux_id: pane for pane in self.tmux.panes() if pane.agentmux_id}
        while settle and any(p.status_pending for p in panes.values()):
            time.sleep(0.05)
            panes = {pane.agentmux_id: pane for pane in self.tmux.panes() if pane.agentmux_id}
        return panes

    def idle_seconds(self, record: SessionRecord, panes: dict[str, PaneInfo]) -> float | None:
        """Seconds since the session's screen last changed, or None when it is not running."""
        pane = panes.get(record.id)
        if record.status is not Status.RUNNING or pane is None or pane.dead:
            return None
        return max(0.0, time.time() - pane.activity)

    # --- create ---------------------------------------------------------------------------------

    def create(
        self,
        *,
        agent: str | None = None,
        name: str | None = None,
        base: str | None = None,
        prompt: bytes | None = None,
        deliver: bool = True,
    ) -> SessionRecord:
        """Create a session: branch, worktree, record, and (when a slot is free) the agent.

        Anything half-created is undone when a step fails. With ``deliver``, a prompt is typed
        into the agent once it is ready; otherwise it stays pending for :meth:`deliver_prompt`.
        """
        profile = resolve_profile(self.config, agent)
        profile.require_program()
        if not git.has_commits(self.repo):
            raise AgentmuxError(
                "the repository has no commits yet; make a first commit, then retry."
            )
        if prompt is not None:
            prompt = sanitize_prompt(prompt)
        with repo_lock(self._lock_path):
            self.reconcile(drain=False, locked=True)
            record = self._create_locked(profile, name, base, prompt)
        if record.status is Status.RUNNING and record.prompt_pending and deliver:
            self.deliver_prompt(record.id)
            record = self.store.session(record.id)
        return record

    def _create_locked(
        self, profile: AgentProfile, name: str | None, base: str | None, prompt: bytes | None
    ) -> SessionRecord:
        live = self.store.sessions()
        taken = {r.name for r in live}
        if name is None:
            name = next_free_name(profile.name, taken)
        validate_name(name)
        if name in taken:
            raise AgentmuxError(f"a session named {name!r} already exists.")
        branch = BRANCH_PREFIX + name
        if git.ref_exists(self.repo, f"refs/heads/{branch}"):
            raise AgentmuxError(
                f"branch {branch!r} already exists; pick another name or delete that branch."
            )
        base_ref = git.current_branch(self.repo) or "HEAD" if base is None else base
        base_commit = git.resolve_commit(self.repo, base_ref)
        if base_ref == "HEAD":
            base_ref = base_commit
        worktree = self.worktree_root / name
        if worktree.exists():
            raise AgentmuxError(f"{worktree} already exists; remove it or pick another name.")
        self.worktree_root.mkdir(parents=True, exist_ok=True)
        session_id = str(uuid.uuid4())
        record = SessionRecord(
            id=session_id,
            name=name,
            agent=profile.name,
            agent_kind=profile.kind,
            agent_session_id=str(uuid.uuid4()),
            branch=branch,
            worktree=str(worktree),
            base_ref=base_ref,
            base_commit=base_commit,
            status=Status.QUEUED,
            created_at=time.time(),
        )
        git.add_worktree(self.repo, worktree, branch, base_commit)
        try:
            self.store.insert_session(record, profile.argv(record.agent_session_id), prompt)
        except BaseException:
            self._undo_worktree(worktree, branch)
            raise
        self._emit(SessionCreated(name, session_id, branch, str(worktree)))
        running = sum(1 for r in live if r.status.is_live)
        if running >= self.config.max_sessions:
            self.store.update_session(
                session_id, "queued", {"running": running}, queued_at=time.time()
            )
            self._emit(SessionQueued(name, session_id, running, self.config.max_sessions))
            return self.store.session(session_id)
        try:
            return self._start_locked(self.store.session(session_id), profile)
        except BaseException:
            self.store.delete_session(session_id)
            self._undo_worktree(worktree, branch)
            raise

    def _undo_worktree(self, worktree: Path, branch: str) -> None:
        # Only ever called on a worktree and branch created moments ago, holding no work yet.
        git.remove_worktree(self.repo, worktree)
        git.delete_branch(self.repo, branch)

    def _start_locked(self, record: SessionRecord, profile: AgentProfile) -> SessionRecord:
        self.store.update_session(record.id, status=Status.STARTING)
        env = {**profile.env, "AGENTMUX_SESSION": record.name, "AGENTMUX_SESSION_ID": record.id}
        exit_file = self._exit_file(record.id)
        exit_file.unlink(missing_ok=True)
        hooks = self._hooks()
        command = pane_command(self.store.argv(record.id), env, exit_file, self._tick_script)
        pane = self.tmux.new_session(
            record.name,
            cwd=Path(record.worktree),
            command=command,
            agentmux_id=record.id,
            hooks=hooks,
        )
        now = time.time()
        wait = None if record.queued_at is None else round(now - record.queued_at, 3)
        self.store.update_session(
            record.id,
            "started",
            {"queue_wait": wait, "pane_id": pane.pane_id},
            status=Status.RUNNING,
            started_at=now,
            tmux_session_id=pane.session_id,
            tmux_window_id=pane.window_id,
            tmux_pane_id=pane.pane_id,
        )
        self._emit(SessionStarted(record.name, record.id, pane.session_id, pane.pane_id))
        return self.store.session(record.id)

    def _exit_file(self, session_id: str) -> Path:
        return ensure_private_dir(self.home / "exit") / session_id

    def _hooks(self) -> dict[str, str]:
        """Write the queue-tick script; return the tmux hook that runs it when a session closes.

        A pane's own wrapper runs the tick when its agent exits; the hook covers a tmux session
        killed from outside.
        """
        script = (
            "#!/bin/sh\n"
            f"cd {shlex.quote(str(self.repo.root))} || exit 0\n"
            f"exec {shlex.quote(sys.executable)} -m agentmux _tick >/dev/null 2>&1\n"
        )
        if not self._tick_script.exists() or self._tick_script.read_text() != script:
            self._tick_script.write_text(script)
            self._tick_script.chmod(0o700)
        return {"session-closed": f'run-shell -b "sh {self._tick_script}"'}

    # --- prompts --------------------------------------------------------------------------------

    def wait_ready(self, record: SessionRecord, profile: AgentProfile) -> str | None:
        """Wait until the agent can take a prompt; return None when ready, else why not."""
        if record.tmux_pane_id is None:
            return "the session has no pane"
        pattern = ready_regex(profile)
        deadline = time.monotonic() + profile.ready_timeout
        last_screen = ""
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            panes = {p.pane_id: p for p in self.tmux.panes()}
            pane = panes.get(record.tmux_pane_id)
            if pane is None or pane.dead:
                return "the agent exited before it was ready"
            screen = self.tmux.capture(record.tmux_pane_id)
            if pattern is not None:
                if pattern.search(screen):
                    return None
            elif screen != last_screen:
                last_screen, stable_since = screen, time.monotonic()
            elif screen.strip() and time.monotonic() - stable_since >= SETTLE_SECONDS:
                return None
            time.sleep(READY_POLL_SECONDS)
        return f"the agent was not ready after {profile.ready_timeout:g} s"

    def deliver_prompt(self, session_id: str) -> bool:
        """Type a session's pending prompt once the agent is ready; True when delivered."""
        record = self.store.session(session_id)
        profile = self._profile_of(record)
        problem = self.wait_ready(record, profile)
        if problem is not None:
            self.store.record_event(session_id, "prompt_not_delivered", {"reason": problem})
            self._emit(PromptNotDelivered(record.name, record.id, problem))
            return False
        prompt = self.store.claim_prompt(session_id)
        if prompt is None:
            return False
        assert record.tmux_pane_id is not None
        self.tmux.paste(record.tmux_pane_id, prompt, submit=True, submit_delay=profile.submit_delay)
        self.store.record_event(session_id, "prompt_sent", {"bytes": len(prompt)})
        self._emit(PromptDelivered(record.name, record.id, len(prompt)))
        return True

    def _profile_of(self, record: SessionRecord) -> AgentProfile:
        profiles = all_profiles(self.config)
        return profiles.get(record.agent) or resolve_profile(self.config, "demo")

    def send(self, name: str, text: bytes, *, submit: bool = True) -> SessionRecord:
        """Type ``text`` into a running session's agent, as a bracketed paste, then Enter."""
        record = self.get(name)
        self._require_running(record)
        assert record.tmux_pane_id is not None
        data = sanitize_prompt(text)
        profile = self._profile_of(record)
        self.tmux.paste(record.tmux_pane_id, data, submit=submit, submit_delay=profile.submit_delay)
        self.store.record_event(record.id, "prompt_sent", {"bytes": len(data)})
        self._emit(PromptDelivered(record.name, record.id, len(data)))
        return record

    def broadcast(self, text: bytes, to: str = "all") -> list[str]:
        """Send ``text`` to several running sessions; return the names it reached.

        ``to`` is ``all``, ``idle`` (no screen change for ``idle_seconds``) or ``NAME,NAME``.
        """
        records = [r for r in self.reconcile() if r.status is Status.RUNNING]
        if to == "all":
            targets = records
        elif to == "idle":
            panes = self.panes_by_session()
            targets = [
                r
                for r in records
                if (idle := self.idle_seconds(r, panes)) is not None
                and idle >= self.config.idle_seconds
            ]
        else:
            names = [n.strip() for n in to.split(",") if n.strip()]
            by_name = {r.name: r for r in records}
            for n in names:
                record = self.get(n)
                if n not in by_name:
                    raise AgentmuxError(f"session {n!r} is not running ({record.status}).")
            targets = [by_name[n] for n in names]
        for record in targets:
            self.send(record.name, text)
        return [r.name for r in targets]

    def _require_running(self, record: SessionRecord) -> None:
        if record.status is not Status.RUNNING:
            raise AgentmuxError(f"session {record.name!r} is not running ({record.status}).")
        pane = self.panes_by_session().get(record.id)
        if pane is None or pane.dead:
            self.reconcile()
            raise AgentmuxError(f"session {record.name!r} is not running any more.")

    # --- reconcile ------------------------------------------------------------------------------

    def reconcile(self, *, drain: bool = True, locked: bool = False) -> list[SessionRecord]:
        """Bring records in line with the tmux server, then start queued sessions if slots free.

        Returns the live (not removed) sessions afterwards.
        """
        if not locked:
            with repo_lock(self._lock_path):
                return self.reconcile(drain=drain, locked=True)
        server_up = self.tmux.is_running()
        panes = self.panes_by_session(settle=True) if server_up else {}
        for record in self.store.sessions():
            if record.status.is_live:
                self._sync(record, panes.get(record.id), server_up)
        if drain:
            self._drain_locked()
        return self.store.sessions()

    def _exit_of(
        self, record: SessionRecord, pane: PaneInfo | None
    ) -> tuple[int | None, int | None]:
        """How the agent ended: from its wrapper's record, else from tmux, else unknown."""
        recorded = read_exit(self._exit_file(record.id))
        if recorded is not None:
            return recorded
        if pane is not None and pane.dead:
            return pane.dead_status, pane.dead_signal
        return None, None

    def _sync(self, record: SessionRecord, pane: PaneInfo | None, server_up: bool) -> None:
        now = time.time()
        if read_exit(self._exit_file(record.id)) is not None or (pane is not None and pane.dead):
            status, sig = self._exit_of(record, pane)
            self.store.update_session(
                record.id,
                "exited",
                {"exit_status": status, "exit_signal": sig},
                status=Status.EXITED,
                ended_at=now,
                exit_status=status,
                exit_signal=sig,
            )
            self._emit(SessionExited(record.name, record.id, status, sig))
            return
        if pane is None:
            if record.status is Status.STARTING:
                # agentmux died while starting it: nothing runs, so it simply waits again.
                self.store.update_session(
                    record.id, "requeued", status=Status.QUEUED, queued_at=record.queued_at or now
                )
                return
            reason = "its tmux session is gone" if server_up else "the tmux server is not running"
            self.store.update_session(
                record.id, "lost", {"reason": reason}, status=Status.LOST, ended_at=now
            )
            self._emit(SessionLost(record.name, record.id, reason))
        elif record.status is Status.STARTING or record.tmux_pane_id != pane.pane_id:
            self.store.update_session(
                record.id,
                status=Status.RUNNING,
                tmux_session_id=pane.session_id,
                tmux_window_id=pane.window_id,
                tmux_pane_id=pane.pane_id,
            )

    def _drain_locked(self) -> list[SessionRecord]:
        started: list[SessionRecord] = []
        records = self.store.sessions()
        running = sum(1 for r in records if r.status.is_live)
        for record in records:
            if running >= self.config.max_sessions:
                break
            if record.status is not Status.QUEUED:
                continue
            if not Path(record.worktree).is_dir():
                self.store.update_session(
                    record.id,
                    "lost",
                    {"reason": "its worktree is gone"},
                    status=Status.LOST,
                    ended_at=time.time(),
                )
                continue
            started.append(self._start_locked(record, self._profile_of(record)))
            running += 1
        return started

    def pending_deliveries(self) -> list[SessionRecord]:
        """Running sessions that still have a prompt waiting to be typed."""
        return [
            r
            for r in self.store.sessions()
            if r.status is Status.RUNNING and r.prompt_pending and not self._delivery_failed(r)
        ]

    def _delivery_failed(self, record: SessionRecord) -> bool:
        kinds = [e["kind"] for e in self.store.events(record.id)]
        return "prompt_not_delivered" in kinds

    # --- stop and remove --------------------------------------------------------------------------

    def stop(self, name: str) -> SessionRecord:
        """End a session's agent (SIGTERM, then SIGKILL), or take a queued one off the queue."""
        with repo_lock(self._lock_path):
            self.reconcile(drain=False, locked=True)
            record = self.get(name)
            if record.status is Status.QUEUED:
                self.store.update_session(
                    record.id, "dequeued", status=Status.STOPPED, ended_at=time.time(), prompt=None
                )
            elif record.status.is_live:
                pane = self.panes_by_session().get(record.id)
                if pane is not None and pane.pane_pid is not None and not pane.dead:
                    terminate_tree(pane.pane_pid, lambda: self._pane_dead(record.id))
                    pane = self.panes_by_session(settle=True).get(record.id)
                status, sig = self._exit_of(record, pane)
                self.store.update_session(
                    record.id,
                    "stopped",
                    {"exit_status": status, "exit_signal": sig},
                    status=Status.STOPPED,
                    ended_at=time.time(),
                    exit_status=status,
                    exit_signal=sig,
                )
            else:
                raise AgentmuxError(f"session {name!r} is not running ({record.status}).")
            self._emit(SessionStopped(record.name, record.id))
            self._drain_locked()
            return self.store.session(record.id)

    def _pane_dead(self, session_id: str) -> bool:
        pane = self.panes_by_session().get(session_id)
        return pane is None or pane.dead

    def work_at_risk(self, record: SessionRecord) -> WorkAtRisk:
        """Uncommitted/untracked paths and commits not in the base that removal would drop."""
        base = record.base_ref
        if not git.ref_exists(self.repo, f"refs/heads/{base}"):
            base = record.base_commit
        dirty = git.dirty_paths(Path(record.worktree)) if Path(record.worktree).is_dir() else []
        unmerged: list[str] = []
        if git.ref_exists(self.repo, f"refs/heads/{record.branch}"):
            unmerged = git.commits_not_in(self.repo, record.branch, base)
        return WorkAtRisk(dirty, unmerged, base)

    def remove(
        self, name: str, *, force: bool = False, delete_branch: bool = False
    ) -> SessionRecord:
        """Remove a session's worktree (and tmux session), never losing work.

        Without ``force`` it refuses a running agent and any work not in the base. With ``force``
        the work is first recorded on ``refs/agentmux/archive/<name>/<time>``.
        """
        with repo_lock(self._lock_path):
            self.reconcile(drain=False, locked=True)
            record = self.get(name)
            pane = self.panes_by_session().get(record.id)
            alive = pane is not None and not pane.dead
            risk = self.work_at_risk(record)
            if not force:
                problems: list[str] = []
                if alive:
                    problems.append("its agent is still running (stop it first)")
                if not risk.empty:
                    problems.append(f"it has {risk.describe()}")
                if problems:
                    raise AgentmuxError(
                        f"not removing {name!r}: "
                        + "; ".join(problems)
                        + ". Use --force to remove it anyway (its work is kept on an archive ref)."
                    )
            archive = self._archive(record, risk) if force else None
            if pane is not None:
                if alive and pane.pane_pid is not None:
                    terminate_tree(pane.pane_pid, lambda: self._pane_dead(record.id))
                self.tmux.kill_session(pane.session_id)
            git.remove_worktree(self.repo, Path(record.worktree))
            if delete_branch and git.ref_exists(self.repo, f"refs/heads/{record.branch}"):
                git.delete_branch(self.repo, record.branch)
            self.store.update_session(
                record.id,
                "removed",
                {"archive_ref": archive, "branch_deleted": delete_branch},
                status=Status.REMOVED,
                removed_at=time.time(),
                archive_ref=archive,
                ended_at=record.ended_at or time.time(),
                prompt=None,
            )
            self._emit(SessionRemoved(record.name, record.id, archive))
            self._drain_locked()
            return self.store.session(record.id)

    def _archive(self, record: SessionRecord, risk: WorkAtRisk) -> str | None:
        """Record the session's work on an archive ref; None when there is nothing to keep."""
        worktree = Path(record.worktree)
        commit: str | None = None
        if worktree.is_dir():
            commit = git.snapshot_commit(
                worktree, f"agentmux: archive of session {record.name} (worktree as it was)\n"
            )
        elif git.ref_exists(self.repo, f"refs/heads/{record.branch}"):
            commit = self.repo.git(["rev-parse", f"refs/heads/{record.branch}"])
        if commit is None:
            return None
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        ref = f"{ARCHIVE_PREFIX}{record.name}/{stamp}-{record.id[:8]}"
        git.update_ref(self.repo, ref, commit, f"agentmux rm --force {record.name}")
        return ref

    def attach_argv(self, name: str) -> list[str]:
        """argv for a full-screen attach to a session's tmux session."""
        record = self.get(name)
        pane = self.panes_by_session().get(record.id)
        if pane is None:
            raise AgentmuxError(f"session {name!r} has no tmux session ({record.status}).")
        return self.tmux.attach_argv(pane.session_id)

    def names(self, records: Iterable[SessionRecord]) -> list[str]:
        """Names of records, in order."""
        return [r.name for r in records]


def branch_for(name: str) -> str:
    """The branch a session called ``name`` works on."""
    return BRANCH_PREFIX + validate_name(name)


def is_agentmux_branch(branch: str) -> bool:
    """Whether ``branch`` is in agentmux's namespace."""
    return bool(re.match(rf"^{re.escape(BRANCH_PREFIX)}[A-Za-z0-9][A-Za-z0-9_-]*$", branch))
