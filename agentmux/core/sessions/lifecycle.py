"""Bringing sessions up: create (record, branch, worktree), queue, start the agent, and undo a
creation that failed part-way; the queue's drain starts the sessions that wait for a slot.

Every step that changes what runs holds the repository lock (the caller's, or taken here), so
two agentmux processes never exceed ``max_sessions`` nor start one queued session twice.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.agents.events import HOOK_KEY, SECRET_ENV, new_hook_secret
from agentmux.core.agents.overlap_warning import ENV_FLAG as OVERLAP_FLAG
from agentmux.core.agents.profiles import AgentProfile, resolve_profile
from agentmux.core.agents.prompts import sanitize_prompt
from agentmux.core.crash_points import pause_for_tests
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import SessionCreated, SessionLost, SessionQueued, SessionStarted
from agentmux.core.git import repo as git
from agentmux.core.paths import data_dir
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.names import next_free_name, validate_name

if TYPE_CHECKING:
    from agentmux.core.config.settings import Config
    from agentmux.core.sessions.manager import SessionManager

BRANCH_PREFIX = "agentmux/"


def worktree_root(repo: git.Repo, config: Config, key: str) -> Path:
    """Where the sessions' worktrees go: ``worktree_root`` of the config (``{repo}`` being the
    repository's name, relative to its root), else agentmux's data directory."""
    if config.worktree_root:
        text = config.worktree_root.replace("{repo}", repo.name)
        root = Path(text).expanduser()
        return root if root.is_absolute() else (repo.root / root).resolve()
    return data_dir() / "worktrees" / f"{repo.name}-{key[:8]}"


class Lifecycle:
    """Creates, starts and (on failure) undoes the sessions of one :class:`SessionManager`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def create(
        self,
        *,
        agent: str | None,
        name: str | None,
        base: str | None,
        prompt: bytes | None,
        deliver: bool,
        budget: Decimal | None,
    ) -> SessionRecord:
        """Create a session: record, branch, worktree, and (when a slot is free) the agent.

        Anything half-created is undone when a step fails. With ``deliver``, a prompt is typed
        into the agent once it is ready; otherwise it stays pending for :meth:`deliver_prompt`.
        """
        m = self.manager
        profile = resolve_profile(m.config, agent)
        profile.require_program()
        if not git.has_commits(m.repo):
            raise AgentmuxError(
                "the repository has no commits yet; make a first commit, then retry."
            )
        if prompt is not None:
            prompt = sanitize_prompt(prompt)
        with m.locked():
            m.reconcile(drain=False, locked=True)
            record = self._create_locked(profile, name, base, prompt)
            if budget is None and m.config.budget_usd is not None:
                budget = Decimal(str(m.config.budget_usd))
            if budget is not None:
                m.store.record_event(record.id, "budget", {"usd": str(budget)})
        if record.status is Status.RUNNING and record.prompt_pending and deliver:
            m.deliver_prompt(record.id)
            record = m.store.session(record.id)
        return record

    def _create_locked(
        self, profile: AgentProfile, name: str | None, base: str | None, prompt: bytes | None
    ) -> SessionRecord:
        m = self.manager
        live = m.store.sessions()
        # One namespace across hosts: `send NAME` must find one session wherever it runs.
        taken = {r.name for r in live} | {r.name for r in m.store.remote_sessions()}
        name = validate_name(name if name is not None else next_free_name(profile.name, taken))
        if name in taken:
            raise AgentmuxError(f"a session named {name!r} already exists.")
        branch = BRANCH_PREFIX + name
        if git.ref_exists(m.repo, f"refs/heads/{branch}"):
            raise AgentmuxError(
                f"branch {branch!r} already exists; pick another name or delete that branch."
            )
        base_ref = base if base is not None else git.current_branch(m.repo) or "HEAD"
        base_commit = git.resolve_commit(m.repo, base_ref)
        if base_ref == "HEAD":
            base_ref = base_commit
        worktree = m.worktree_root / name
        m.host.make_room(m.worktree_root, worktree)
        record = SessionRecord(
            id=str(uuid.uuid4()),
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
            host=m.host.name,
        )
        # The record comes first: if agentmux dies after this, the worktree it makes next is
        # still known (and, should it be missing, the session shows as lost, not silently gone).
        m.store.insert_session(record, profile.argv(record.agent_session_id), prompt)
        try:
            m.host.add_worktree(m.repo, worktree, branch, base_commit)
        except BaseException:
            m.store.delete_session(record.id)
            raise
        try:
            m.emit(SessionCreated(name, record.id, branch, str(worktree)))
            running = sum(1 for r in live if r.status.is_live)
            if running >= m.config.max_sessions:
                m.store.update_session(
                    record.id, "queued", {"running": running}, queued_at=time.time()
                )
                m.emit(SessionQueued(name, record.id, running, m.config.max_sessions))
                return m.store.session(record.id)
            return self.start(m.store.session(record.id), profile)
        except BaseException:
            self._undo_create(record)
            raise

    def _undo_create(self, record: SessionRecord) -> None:
        """Undo a session made moments ago, whose worktree and branch hold no work yet: end its
        agent if it started, then remove worktree, branch and record. What cannot be undone is
        left with the record marked lost, for `rm` to finish."""
        m = self.manager
        try:
            pane = m.panes_by_session().get(record.id)
            if pane is not None:
                m.teardown.terminate(record)
                m.host.kill_agent_session(pane)
            problem = m.host.discard_new_worktree(m.repo, record)
        except Exception as exc:  # the original failure is the one to report
            problem = str(exc)
        if problem is None:
            m.store.delete_session(record.id)
        else:
            reason = f"its creation failed and could not be undone: {problem}"
            with contextlib.suppress(Exception):
                m.store.update_session(
                    record.id, "lost", {"reason": reason}, status=Status.LOST, ended_at=time.time()
                )

    def start(self, record: SessionRecord, profile: AgentProfile) -> SessionRecord:
        """Start the agent of a queued session (the lock held); on failure nothing of it keeps
        running."""
        m = self.manager
        m.store.update_session(record.id, status=Status.STARTING)
        secret, digest = new_hook_secret()
        m.store.record_event(record.id, HOOK_KEY, {"sha256": digest})
        env = {
            **profile.env,
            "AGENTMUX_SESSION": record.name,
            "AGENTMUX_SESSION_ID": record.id,
            "AGENTMUX_STATE_DB": str(m.store.path),
            SECRET_ENV: secret,
        }
        if m.config.warn_agents_on_overlap:
            env[OVERLAP_FLAG] = "1"
        try:
            pane = m.host.start_agent(
                record.name,
                session_id=record.id,
                worktree=Path(record.worktree),
                argv=m.store.argv(record.id),
                env=env,
                repo_root=m.repo.root,
            )
        except BaseException:
            m.store.update_session(record.id, status=Status.QUEUED)
            raise
        m.socket_worked()
        pause_for_tests("after_new_session")
        now = time.time()
        wait = None if record.queued_at is None else round(now - record.queued_at, 3)
        m.store.update_session(
            record.id,
            "started",
            {"queue_wait": wait, "pane_id": pane.pane_id},
            status=Status.RUNNING,
            started_at=now,
            tmux_session_id=pane.session_id,
            tmux_window_id=pane.window_id,
            tmux_pane_id=pane.pane_id,
        )
        m.emit(SessionStarted(record.name, record.id, pane.session_id, pane.pane_id))
        return m.store.session(record.id)

    def drain(self) -> list[SessionRecord]:
        """Start queued sessions, oldest first, while slots are free (the lock held); one failure
        stops none."""
        m = self.manager
        started: list[SessionRecord] = []
        records = m.store.sessions()
        if not any(r.status is Status.QUEUED for r in records):
            return started  # and the config is not read: most reconciles queue nothing
        running = sum(1 for r in records if r.status.is_live)
        for record in records:
            if running >= m.config.max_sessions:
                break
            if record.status is not Status.QUEUED:
                continue
            if not m.host.is_worktree_of(m.repo, Path(record.worktree)):
                # Gone, or a plain directory made again where it was: no place for the agent.
                reason = "its worktree is gone"
            else:
                try:
                    started.append(self.start(record, m.profile_of(record)))
                    running += 1
                    continue
                except AgentmuxError as exc:
                    reason = f"it could not start: {exc.message}"
            m.store.update_session(
                record.id, "lost", {"reason": reason}, status=Status.LOST, ended_at=time.time()
            )
            m.emit(SessionLost(record.name, record.id, reason))
        return started
