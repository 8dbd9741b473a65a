"""Agent sessions: each a branch, a worktree and a tmux session, recorded in the state store.

:class:`SessionManager` is the one entry point the CLI and the UI use. Every operation that starts
or removes sessions holds the repository lock, so two agentmux processes cannot exceed the
concurrency limit or start a queued session twice.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from agentmux.core.agents.events import (
    AGENT_EVENT,
    HOOK_KEY,
    PROMPT_SENT,
    SECRET_ENV,
    ActivityTracker,
    new_hook_secret,
)
from agentmux.core.agents.first_prompt import (
    NOT_DELIVERED,
    cancel_first_prompt,
    first_prompt_waits,
    note_first_prompt,
)
from agentmux.core.agents.held_prompts import HELD, RELEASED, held_data, is_busy, pending
from agentmux.core.agents.overlap_warning import ENV_FLAG as OVERLAP_FLAG
from agentmux.core.agents.profiles import AgentProfile, all_profiles, resolve_profile
from agentmux.core.agents.prompts import sanitize_prompt
from agentmux.core.agents.readiness import wait_ready
from agentmux.core.config.settings import Config, load_config
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import (
    EventSink,
    PromptDelivered,
    PromptHeld,
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
from agentmux.core.git import repo as git
from agentmux.core.git.conflict_history import record_merge
from agentmux.core.git.conflicts import ConflictRadar
from agentmux.core.git.integration import prune_integration
from agentmux.core.git.merge import MergePlan, MergeStep, default_into, plan_merge
from agentmux.core.git.merge_landing import land
from agentmux.core.git.merge_landing import recover as recover_landing
from agentmux.core.git.merged import (
    last_squash_merge,
    merged_event_data,
    record_merged,
    without_squash_merged,
)
from agentmux.core.git.safety import WorkAtRisk, work_at_risk
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.locking import repo_lock, try_lock
from agentmux.core.metrics.budgets import BudgetState, budget_states, level
from agentmux.core.metrics.collector import MetricsCollector, SessionMetrics, interruptions
from agentmux.core.metrics.runs import RESUMED
from agentmux.core.paths import data_dir, ensure_private_dir, repo_key
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.commit_work import commit_for_merge
from agentmux.core.sessions.names import next_free_name, validate_name
from agentmux.core.sessions.removal import discard_new_worktree, removal
from agentmux.core.state import StateStore
from agentmux.core.tmux.launch import pane_command, pause_for_tests, read_exit, write_env_file
from agentmux.core.tmux.orphans import adopt_orphans
from agentmux.core.tmux.server import (
    HIDDEN_PREFIX,
    PaneInfo,
    TmuxServer,
    clean_env,
    require_tmux,
    terminate_tree,
    tmux_quote,
)
from agentmux.core.tmux.socket_pin import SocketPin

BRANCH_PREFIX = "agentmux/"
# After agentmux types a prompt, how long the agent counts as busy before it reports the turn.
TYPED_GRACE = 30.0
#: Seconds `send` waits for another process delivering held prompts to the same session.
DELIVER_LOCK_WAIT = 2.0
NO_TMUX_IDS = {"tmux_session_id": None, "tmux_window_id": None, "tmux_pane_id": None}


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
        try:
            self.home = ensure_private_dir(repo.common_dir / "agentmux")
        except OSError as exc:
            raise AgentmuxError(
                f"cannot create agentmux's directory in {repo.common_dir}: {exc.strerror}."
            ) from exc
        self.store = StateStore(self.home / "state.db")
        key = self._key = repo_key(repo.common_dir)
        self._socket = SocketPin(self.store, key)
        self._use_socket(self._socket.path)
        self._lock_path = self.home / "lock"
        self.worktree_root = self._worktree_root(key)
        self.started_by_last_drain: list[str] = []
        # The panes the last reconcile saw, for callers that need them too (the TUI's idle times).
        self.last_panes: dict[str, PaneInfo] = {}
        # Transcript readers for telling interrupted turns, kept between calls (see _busy).
        self._interruptions: MetricsCollector | None = None
        self._interruptions_lock = threading.Lock()

    @classmethod
    def open(cls, cwd: Path, *, on_event: EventSink = ignore_events) -> SessionManager:
        """Open the repository containing ``cwd``, checking tmux, git and config first."""
        require_tmux()
        repo = git.discover_repo(cwd)
        return cls(repo, load_config(repo.root), on_event=on_event)

    def close(self) -> None:
        """Release the state store."""
        self.store.close()

    def _use_socket(self, socket: Path) -> None:
        try:
            ensure_private_dir(socket.parent)
        except OSError as exc:
            raise AgentmuxError(f"cannot create {socket.parent}: {exc.strerror}.") from exc
        self.tmux = TmuxServer(socket)
        self._tick_script = socket.with_name(f"{self._key}.tick.sh")

    def _worktree_root(self, key: str) -> Path:
        if self.config.worktree_root:
            text = self.config.worktree_root.replace("{repo}", self.repo.name)
            root = Path(text).expanduser()
            return root if root.is_absolute() else (self.repo.root / root).resolve()
        return data_dir() / "worktrees" / f"{self.repo.name}-{key[:8]}"

    def _emit(self, event: SessionEvent) -> None:
        self.on_event(event)

    def _file(self, kind: str, session_id: str) -> Path:
        return ensure_private_dir(self.home / kind) / session_id

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

    def panes_by_session(
        self, *, settle: bool = False, listing: list[PaneInfo] | None = None
    ) -> dict[str, PaneInfo]:
        """The agents' tmux panes, keyed by the agentmux session id tagged on each (from
        ``listing`` when the caller has just listed them).

        With ``settle``, wait (a few seconds at most) until every pane that just died has its exit
        status, so an exit is never recorded as "status unknown" only because tmux was busy.
        """
        listed = self.tmux.panes() if listing is None else listing
        panes = {pane.agentmux_id: pane for pane in listed if pane.agentmux_id}
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
        budget: Decimal | None = None,
    ) -> SessionRecord:
        """Create a session: record, branch, worktree, and (when a slot is free) the agent.

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
            if budget is None and self.config.budget_usd is not None:
                budget = Decimal(str(self.config.budget_usd))
            if budget is not None:
                self.store.record_event(record.id, "budget", {"usd": str(budget)})
        if record.status is Status.RUNNING and record.prompt_pending and deliver:
            self.deliver_prompt(record.id)
            record = self.store.session(record.id)
        return record

    def _create_locked(
        self, profile: AgentProfile, name: str | None, base: str | None, prompt: bytes | None
    ) -> SessionRecord:
        live = self.store.sessions()
        taken = {r.name for r in live}
        name = validate_name(name if name is not None else next_free_name(profile.name, taken))
        if name in taken:
            raise AgentmuxError(f"a session named {name!r} already exists.")
        branch = BRANCH_PREFIX + name
        if git.ref_exists(self.repo, f"refs/heads/{branch}"):
            raise AgentmuxError(
                f"branch {branch!r} already exists; pick another name or delete that branch."
            )
        base_ref = base if base is not None else git.current_branch(self.repo) or "HEAD"
        base_commit = git.resolve_commit(self.repo, base_ref)
        if base_ref == "HEAD":
            base_ref = base_commit
        worktree = self.worktree_root / name
        if worktree.exists():
            raise AgentmuxError(f"{worktree} already exists; remove it or pick another name.")
        try:
            self.worktree_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AgentmuxError(f"cannot create {self.worktree_root}: {exc.strerror}.") from exc
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
        )
        # The record comes first: if agentmux dies after this, the worktree it makes next is
        # still known (and, should it be missing, the session shows as lost, not silently gone).
        self.store.insert_session(record, profile.argv(record.agent_session_id), prompt)
        try:
            git.add_worktree(self.repo, worktree, branch, base_commit)
        except BaseException:
            self.store.delete_session(record.id)
            raise
        try:
            self._emit(SessionCreated(name, record.id, branch, str(worktree)))
            running = sum(1 for r in live if r.status.is_live)
            if running >= self.config.max_sessions:
                self.store.update_session(
                    record.id, "queued", {"running": running}, queued_at=time.time()
                )
                self._emit(SessionQueued(name, record.id, running, self.config.max_sessions))
                return self.store.session(record.id)
            return self._start_locked(self.store.session(record.id), profile)
        except BaseException:
            self._undo_create(record)
            raise

    def _undo_create(self, record: SessionRecord) -> None:
        """Undo a session made moments ago, whose worktree and branch hold no work yet: end its
        agent if it started, then remove worktree, branch and record. What cannot be undone is
        left with the record marked lost, for `rm` to finish."""
        try:
            pane = self.panes_by_session().get(record.id)
            if pane is not None:
                self._terminate(record)
                self.tmux.kill_agent_session(pane)
            problem = discard_new_worktree(self.repo, record, spare=(str(self._tick_script),))
        except Exception as exc:  # the original failure is the one to report
            problem = str(exc)
        if problem is None:
            self.store.delete_session(record.id)
        else:
            reason = f"its creation failed and could not be undone: {problem}"
            with contextlib.suppress(Exception):
                self.store.update_session(
                    record.id, "lost", {"reason": reason}, status=Status.LOST, ended_at=time.time()
                )

    def _start_locked(self, record: SessionRecord, profile: AgentProfile) -> SessionRecord:
        """Start the agent of a queued session; on failure nothing of it keeps running."""
        self.store.update_session(record.id, status=Status.STARTING)
        exit_file = self._file("exit", record.id)
        exit_file.unlink(missing_ok=True)
        env_file = self._file("env", record.id)
        secret, digest = new_hook_secret()
        self.store.record_event(record.id, HOOK_KEY, {"sha256": digest})
        env = {
            **clean_env(),
            **profile.env,
            "AGENTMUX_SESSION": record.name,
            "AGENTMUX_SESSION_ID": record.id,
            "AGENTMUX_STATE_DB": str(self.store.path),
            SECRET_ENV: secret,
        }
        if self.config.warn_agents_on_overlap:
            env[OVERLAP_FLAG] = "1"
        write_env_file(env_file, env)
        command = pane_command(self.store.argv(record.id), env_file, exit_file, self._tick_script)
        try:
            pane = self.tmux.new_session(
                record.name,
                cwd=Path(record.worktree),
                command=command,
                agentmux_id=record.id,
                hooks=self._hooks(),
            )
        except BaseException:
            env_file.unlink(missing_ok=True)
            self.store.update_session(record.id, status=Status.QUEUED)
            raise
        self._socket.worked()
        pause_for_tests("after_new_session")
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

    def _hooks(self) -> dict[str, str]:
        """Write the queue-tick script; return the tmux hook that runs it when a session closes.

        A pane's own wrapper runs the tick when its agent exits; the hook is a second chance for a
        tmux session killed from outside.
        """
        script = (
            "#!/bin/sh\n"
            f"cd {shlex.quote(str(self.repo.root))} || exit 0\n"
            f"exec {shlex.quote(sys.executable)} -m agentmux _tick >/dev/null 2>&1\n"
        )
        current = self._tick_script.read_text() if self._tick_script.exists() else None
        if current != script:
            tmp = self._tick_script.with_name(f"{self._tick_script.name}.{os.getpid()}")
            tmp.write_text(script)
            tmp.chmod(0o700)
            tmp.replace(self._tick_script)
        return {"session-closed": "run-shell -b " + tmux_quote(f"sh {self._tick_script}")}

    # --- prompts --------------------------------------------------------------------------------

    def deliver_prompt(self, session_id: str) -> bool:
        """Type a session's pending prompt once the agent is ready; True when delivered.

        One process at a time waits for a given session (a per-session lock); another finds the
        lock taken and leaves the delivery to it. Ctrl-C while waiting cancels the prompt: typed
        later, it could land after prompts sent since.
        """
        with try_lock(self._file("deliver", session_id)) as mine:
            if not mine:
                return False
            record = self.store.session(session_id)
            if not record.prompt_pending or record.status is not Status.RUNNING:
                return False
            profile = self._profile_of(record)
            try:
                problem = wait_ready(self.tmux, record.id, profile)
            except KeyboardInterrupt:
                raise cancel_first_prompt(self.store, record) from None
            if problem is None:
                prompt = self.store.claim_prompt(session_id)
                if prompt is None:
                    return False
                if self._paste(record, prompt, submit=True):
                    self.store.record_event(session_id, "prompt_sent", {"bytes": len(prompt)})
                    note_first_prompt(self.store, session_id, prompt)
                    self._emit(PromptDelivered(record.name, record.id, len(prompt)))
                    self._deliver_oldest(session_id)  # one sent meanwhile, held behind it
                    return True
                problem = "the agent's pane went away"
            self.store.record_event(session_id, NOT_DELIVERED, {"reason": problem})
            self._emit(PromptNotDelivered(record.name, record.id, problem))
            return False

    def _paste(self, record: SessionRecord, data: bytes, *, submit: bool) -> bool:
        """Type into the session's agent: only into the pane tmux confirms is tagged with its
        id (its stored pane id names nothing for sure once the tmux server has restarted)."""
        if record.tmux_pane_id is None:
            return False
        delay = self._profile_of(record).submit_delay
        return self.tmux.paste(
            record.tmux_pane_id, data, tag=record.id, submit=submit, submit_delay=delay
        )

    def _first_prompt_waits(self, record: SessionRecord) -> bool:
        """A session's first prompt (from ``new``) is typed before any sent later: type it now
        unless another process is about to; True while it still waits (so a later one is held
        behind it)."""
        deadline = time.monotonic() + DELIVER_LOCK_WAIT
        while first_prompt_waits(self.store, record.id):
            if self.deliver_prompt(record.id) or time.monotonic() >= deadline:
                return first_prompt_waits(self.store, record.id)
            time.sleep(0.05)
        return False

    def _profile_of(self, record: SessionRecord) -> AgentProfile:
        profiles = all_profiles(self.config)
        return profiles.get(record.agent) or resolve_profile(self.config, "demo")

    def send(
        self, name: str, text: bytes, *, submit: bool = True, hold: bool = True
    ) -> SessionRecord:
        """Type ``text`` into a running session's agent, as a bracketed paste, then Enter.

        With ``hold``, a prompt for an agent in the middle of a turn (as its hooks report) is
        kept and typed when the agent is idle again, after any prompts held before it.
        """
        record = self.get(name)
        pane = self._running_pane(record, self.panes_by_session())
        self._await_first_ready(record)
        behind = submit and self._first_prompt_waits(record)
        if (hold or behind) and submit:
            return self._send_or_hold(record, pane, text, behind=behind)
        return self._send(record, pane, text, submit=submit)

    def _await_first_ready(self, record: SessionRecord) -> None:
        """A prompt sent just after ``new`` waits for the agent to be ready, as ``new``'s own
        prompt does: typed earlier, it could land in a start-up question or be lost."""
        if record.started_at is None:
            return
        profile = self._profile_of(record)
        if profile.ready_pattern is None or time.time() - record.started_at > profile.ready_timeout:
            return  # without a pattern there is nothing reliable to wait for
        if self.store.last_event(record.id, PROMPT_SENT) is not None:
            return  # it has taken a prompt already: it was ready once
        problem = wait_ready(self.tmux, record.id, profile)
        if problem is not None:
            raise AgentmuxError(f"{record.name} is not ready for a prompt: {problem}.")

    def _send_or_hold(
        self, record: SessionRecord, pane: PaneInfo, text: bytes, *, behind: bool = False
    ) -> SessionRecord:
        self._check_budget(record)
        # Prompts held earlier go first: one is typed now if the agent is idle (a turn ended by
        # an interruption fires no hook to release it), and this one waits behind it.
        self.deliver_held(record.id)
        waiting = pending(self.store.events(record.id, kinds=(HELD, RELEASED)))
        if behind or waiting or self._busy(record.id):
            data = sanitize_prompt(text)
            self.store.record_event(record.id, HELD, held_data(uuid.uuid4().hex, data, True))
            self._emit(PromptHeld(record.name, record.id, len(waiting) + 1))
            # The turn may have ended since we looked, its Stop hook finding nothing held yet:
            # look again now that the prompt is recorded, or it could wait for good.
            self.deliver_held(record.id, wait=True)
            return record
        return self._send(record, pane, text, submit=True)

    def deliver_held(self, session_id: str, *, wait: bool = False) -> bool:
        """Type the oldest held prompt if the agent is idle now; True when one was typed. With
        ``wait``, a delivery under way elsewhere for this session is waited for (a moment), then
        we look again; without it, that delivery is left to do it."""
        lock = self._file("deliver", session_id)
        # A delivery under way may have read the held prompts before ours. One that found
        # nothing to type lets go at once; one that types is starting a turn, whose end releases
        # ours. So a short wait is enough, and `send` never waits on an agent's start-up.
        deadline = time.monotonic() + (DELIVER_LOCK_WAIT if wait else 0.0)
        while True:
            with try_lock(lock) as mine:
                if mine:
                    return self._deliver_oldest(session_id)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _deliver_oldest(self, session_id: str) -> bool:
        """Type the oldest held prompt if the agent is idle (the deliver lock held)."""
        record = self.store.session(session_id)
        if record.status is not Status.RUNNING:
            return False
        if first_prompt_waits(self.store, session_id):
            return False  # the first prompt is typed first (deliver_prompt releases these)
        waiting = pending(self.store.events(session_id, kinds=(HELD, RELEASED)))
        if not waiting or self._busy(session_id):
            return False
        profile = self._profile_of(record)
        if wait_ready(self.tmux, record.id, profile) is not None:
            return False
        first = waiting[0]
        try:
            pane = self._running_pane(record, self.panes_by_session())
            self._send(record, pane, first.text, submit=first.submit)
        except AgentmuxError:
            return False  # e.g. its budget was reached: the prompt stays held
        waited = round(time.time() - first.held_at, 3)
        self.store.record_event(session_id, RELEASED, {"hold_id": first.hold_id, "wait": waited})
        return True

    def _busy(self, session_id: str) -> bool:
        """Whether the agent is in a turn, by its own latest event; a prompt typed since its
        latest event counts too (the agent has not said so yet), for a while."""
        last = self.store.last_event(session_id, AGENT_EVENT)
        if last is None:
            return False  # an agent that reports nothing is never held for
        ended_at = float(last["ts"])
        resumed = self.store.last_event(session_id, RESUMED)
        if resumed is not None and resumed["ts"] > ended_at:
            ended_at = float(resumed["ts"])  # a new run since: the turn of the old one is over
        elif is_busy(str(last["data"].get("event"))):
            # Claude Code fires no hook when the user interrupts a turn: only its transcript
            # says so, and without looking there the agent would stay "busy" for good.
            times = self._interruptions_of(session_id)
            if not times:
                return True
            tracker = ActivityTracker()
            for event in self.store.events(session_id, kinds=(AGENT_EVENT, PROMPT_SENT)):
                tracker.feed(event)
            tracker.note_interrupts(times)
            if is_busy(tracker.last):
                return True
            ended_at = tracker.last_ts
        typed = self.store.last_event(session_id, PROMPT_SENT)
        return typed is not None and ended_at < typed["ts"] > time.time() - TYPED_GRACE

    def _interruptions_of(self, session_id: str) -> list[float]:
        """When the user interrupted the session's turns, by its transcript (read incrementally:
        a long-lived manager keeps its reader)."""
        record = self.store.session(session_id)
        with self._interruptions_lock:
            if self._interruptions is None:
                self._interruptions = self.metrics_collector()
            return interruptions(self._interruptions.usage(record))

    def deliver_held_all(self) -> list[str]:
        """Release held prompts of every idle running session; the names that got one."""
        sessions = {e["session_id"] for e in self.store.events(kinds=(HELD,))}
        return [
            r.name
            for r in self.store.sessions()
            if r.id in sessions and r.status is Status.RUNNING and self.deliver_held(r.id)
        ]

    def _check_budget(self, record: SessionRecord) -> None:
        """Refuse a prompt for a session whose budget is reached (checking its spend first)."""
        state = self.budget_states().get(record.id)
        if state is not None and not state.reached:
            # Spend is checked before every prompt, so a cap holds even with no TUI running.
            self.enforce_budgets(self.metrics_collector().collect([record], {record.id: state.usd}))
            state = self.budget_states().get(record.id)
        if state is not None and state.reached:
            raise AgentmuxError(
                f"{record.name} reached its ${state.usd} budget; agentmux sends it no more "
                f"prompts (raise it with `agentmux budget {record.name} USD`)."
            )

    def _send(
        self, record: SessionRecord, pane: PaneInfo, text: bytes, *, submit: bool
    ) -> SessionRecord:
        self._check_budget(record)
        data = sanitize_prompt(text)
        delay = self._profile_of(record).submit_delay
        if not self.tmux.paste(
            pane.pane_id, data, tag=record.id, submit=submit, submit_delay=delay
        ):
            self.reconcile()
            raise AgentmuxError(f"session {record.name!r} is not running any more.")
        self.store.record_event(record.id, "prompt_sent", {"bytes": len(data)})
        note_first_prompt(self.store, record.id, data)
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
            panes = self.last_panes
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
        panes = self.last_panes  # listed by the reconcile above: one tmux call for all targets
        for record in targets:
            pane = self._running_pane(record, panes)
            self._send_or_hold(record, pane, text, behind=self._first_prompt_waits(record))
        return [r.name for r in targets]

    def _running_pane(self, record: SessionRecord, panes: dict[str, PaneInfo]) -> PaneInfo:
        if record.status is not Status.RUNNING:
            raise AgentmuxError(f"session {record.name!r} is not running ({record.status}).")
        pane = panes.get(record.id)
        if pane is None or pane.dead or read_exit(self._file("exit", record.id)) is not None:
            self.reconcile()
            raise AgentmuxError(f"session {record.name!r} is not running any more.")
        return pane

    # --- reconcile ------------------------------------------------------------------------------

    def reconcile(self, *, drain: bool = True, locked: bool = False) -> list[SessionRecord]:
        """Bring records in line with the tmux server, then start queued sessions if slots free.

        Returns the live (not removed) sessions afterwards; the ids of sessions this call
        started are in :attr:`started_by_last_drain`.
        """
        if not locked:
            with repo_lock(self._lock_path):
                return self.reconcile(drain=drain, locked=True)
        if (socket := self._socket.saved_elsewhere()) is not None:
            self._use_socket(socket)
        listing = self.tmux.panes()
        records = self.store.sessions()
        for record, pane in adopt_orphans(self.tmux, records, listing):
            self.store.record_event(record.id, "orphan_tagged", {"pane_id": pane.pane_id})
            listing = self.tmux.panes()
        panes = self.panes_by_session(settle=True, listing=listing)
        # One tmux call in the usual case: panes listed means the server is up.
        server_up = bool(listing) or self.tmux.is_running()
        self.last_panes = panes
        for record in records:
            if record.status.is_live or record.status is Status.LOST:
                self._sync(record, panes.get(record.id), server_up)
            elif record.tmux_pane_id is not None and record.id not in panes:
                self.store.update_session(record.id, **NO_TMUX_IDS)  # gone with its pane
        self.started_by_last_drain = [r.id for r in self._drain_locked()] if drain else []
        if self.started_by_last_drain:
            self.last_panes = self.panes_by_session()  # the panes the drain just made
        return self.store.sessions()

    def _exit_of(
        self, record: SessionRecord, pane: PaneInfo | None
    ) -> tuple[int, int | None] | None:
        """How the agent ended: from its wrapper's record, else from tmux; None while it runs."""
        recorded = read_exit(self._file("exit", record.id))
        if recorded is not None:
            return recorded
        if pane is not None and pane.dead:
            if pane.dead_signal is not None:
                return 128 + pane.dead_signal, pane.dead_signal
            if pane.dead_status is not None:
                return pane.dead_status, None
        return None

    def _sync(self, record: SessionRecord, pane: PaneInfo | None, server_up: bool) -> None:
        now = time.time()
        if pane is not None and pane.session_name.startswith(HIDDEN_PREFIX):
            # Its own tmux session was killed; only the TUI's view still shows the window. End it
            # as the kill meant to.
            self.tmux.run_if_tagged(pane.pane_id, record.id, ["kill-window", "-t", pane.pane_id])
            pane = None
        ended = self._exit_of(record, pane)
        if ended is not None or (pane is not None and pane.dead):
            status, sig = ended if ended is not None else (None, None)
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
        elif pane is None:
            if record.status is Status.STARTING:
                # agentmux died while starting it: nothing runs, so it simply waits again.
                self.store.update_session(record.id, "requeued", status=Status.QUEUED)
            elif record.status is not Status.LOST:
                reason = (
                    "its tmux session is gone" if server_up else "the tmux server is not running"
                )
                # Its tmux ids name nothing now, and a new server hands the same ids out again.
                self.store.update_session(
                    record.id,
                    "lost",
                    {"reason": reason, "pane_id": record.tmux_pane_id},
                    status=Status.LOST,
                    ended_at=now,
                    **NO_TMUX_IDS,
                )
                self._emit(SessionLost(record.name, record.id, reason))
        elif record.status is not Status.RUNNING or record.tmux_pane_id != pane.pane_id:
            # Starting (agentmux died before it said so), or lost and found again: it is running.
            self.store.update_session(
                record.id,
                "adopted" if record.status in (Status.LOST, Status.STARTING) else None,
                status=Status.RUNNING,
                ended_at=None,
                tmux_session_id=pane.session_id,
                tmux_window_id=pane.window_id,
                tmux_pane_id=pane.pane_id,
            )

    def _drain_locked(self) -> list[SessionRecord]:
        """Start queued sessions, oldest first, while slots are free; one failure stops none."""
        started: list[SessionRecord] = []
        records = self.store.sessions()
        running = sum(1 for r in records if r.status.is_live)
        for record in records:
            if running >= self.config.max_sessions:
                break
            if record.status is not Status.QUEUED:
                continue
            if not git.is_worktree_of(self.repo, Path(record.worktree)):
                # Gone, or a plain directory made again where it was: no place for the agent.
                reason = "its worktree is gone"
            else:
                try:
                    started.append(self._start_locked(record, self._profile_of(record)))
                    running += 1
                    continue
                except AgentmuxError as exc:
                    reason = f"it could not start: {exc.message}"
            self.store.update_session(
                record.id, "lost", {"reason": reason}, status=Status.LOST, ended_at=time.time()
            )
            self._emit(SessionLost(record.name, record.id, reason))
        return started

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The repository lock that starts, stops and removals hold (not re-entrant)."""
        return repo_lock(self._lock_path)

    def drain_locked(self) -> list[SessionRecord]:
        """Start queued sessions while slots are free (the lock held; for
        :mod:`agentmux.core.sessions.resume`)."""
        started = self._drain_locked()
        self.started_by_last_drain = [r.id for r in started]
        return started

    def pending_deliveries(self) -> list[SessionRecord]:
        """Running sessions whose prompt still waits to be typed (and has not failed to)."""
        pending = [
            r for r in self.store.sessions() if r.status is Status.RUNNING and r.prompt_pending
        ]
        return [r for r in pending if self.store.last_event(r.id, NOT_DELIVERED) is None]

    # --- stop and remove --------------------------------------------------------------------------

    def _terminate(self, record: SessionRecord) -> PaneInfo | None:
        """End the agent of a session if it runs; return its pane afterwards."""
        pane = self.panes_by_session().get(record.id)
        if pane is not None and pane.pane_pid is not None and not pane.dead:
            terminate_tree(pane.pane_pid, lambda: self._pane_dead(record.id))
            pane = self.panes_by_session(settle=True).get(record.id)
        return pane

    def _pane_dead(self, session_id: str) -> bool:
        pane = self.panes_by_session().get(session_id)
        return pane is None or pane.dead

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
                pane = self._terminate(record)
                status, sig = self._exit_of(record, pane) or (None, None)
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
            self.started_by_last_drain = [r.id for r in self._drain_locked()]
            return self.store.session(record.id)

    def conflict_radar(self) -> ConflictRadar:
        """A conflict radar over this repository's sessions (snapshots kept in agentmux's dir)."""
        store = SnapshotStore(self.repo, self.home / "snapshots")
        store.prune_if_large()
        return ConflictRadar(store)

    # --- budgets --------------------------------------------------------------------------------

    def budget_states(self) -> dict[str, BudgetState]:
        """Each session's budget, and whether it was reached."""
        return budget_states(self.store.events(kinds=("budget", "budget_reached")))

    def metrics(
        self, records: list[SessionRecord], collector: MetricsCollector | None = None
    ) -> list[SessionMetrics]:
        """Metrics of ``records`` with their budgets and agent events (a collector kept between
        calls reads transcripts incrementally)."""
        budgets = {sid: state.usd for sid, state in self.budget_states().items()}
        if collector is None:
            # One report from scratch (the CLI): read every transcript in bulk, on every core.
            collector = self.metrics_collector()
            collector.preload(records)
        # Only the events since the collector's last look: a refresh never re-reads history.
        kinds = (AGENT_EVENT, PROMPT_SENT, HELD, RELEASED, RESUMED)
        collector.feed_events(self.store.events(kinds=kinds, after_id=collector.last_event_id))
        return collector.collect(records, budgets)

    def metrics_collector(self) -> MetricsCollector:
        """A collector that finds each session's transcripts where its agent writes them (its
        profile's environment may move Claude Code's or Codex's config dir)."""
        return MetricsCollector(env_of=lambda record: self._profile_of(record).env)

    def set_budget(self, name: str, usd: Decimal) -> SessionRecord:
        """Set (or raise) a session's budget; a reached budget that is raised lets prompts in."""
        record = self.get(name)
        self.store.record_event(record.id, "budget", {"usd": str(usd)})
        return record

    def enforce_budgets(self, metrics: Sequence[SessionMetrics]) -> list[str]:
        """Stop sessions whose known spend reached their budget: interrupt the agent, record it,
        and refuse further prompts. Returns the names newly stopped."""
        states = self.budget_states()
        stopped: list[str] = []
        for m in metrics:
            state = states.get(m.record.id)
            if state is None or state.reached or level(m.budget_used) != "reached":
                continue
            record = m.record
            # One stop per session, decided under a lock: the TUI's metrics worker, `cost` and
            # `send` can all see the cap at once, and a second interrupt at an idle prompt
            # quits the agent (Ctrl-C twice ends the demo agent, as it ends Claude Code).
            with repo_lock(self._file("budget", record.id)):
                state = self.budget_states().get(record.id)
                if state is None or state.reached:
                    continue
                # The metrics' record may be old (a TUI's): the store and tmux say what is true
                # now, and the keys go only to the pane tagged with this session's id.
                pane = self.panes_by_session().get(record.id)
                running = self.store.session(record.id).status is Status.RUNNING
                if running and pane is not None and self._may_be_in_turn(record):
                    keys = self._profile_of(record).interrupt_keys
                    self.tmux.send_keys_tagged(pane.pane_id, record.id, *keys)
                spent = m.cost.known if m.cost is not None else None
                self.store.record_event(
                    record.id, "budget_reached", {"usd": str(state.usd), "spent": str(spent)}
                )
            stopped.append(record.name)
        return stopped

    def _may_be_in_turn(self, record: SessionRecord) -> bool:
        """Whether an interrupt may have a turn to stop. Only agents whose hooks report a turn's
        start (Claude Code, the demo agent) can be known idle; Codex reports only a turn's end
        and other commands nothing, so they are always interrupted."""
        if self._profile_of(record).kind not in ("claude", "demo"):
            return True
        if self.store.last_event(record.id, AGENT_EVENT) is None:
            return True
        return self._busy(record.id)

    def in_turn(self, record: SessionRecord) -> bool:
        """Whether the session's agent may be in the middle of a turn now (never when it is not
        running). Agents whose hooks report a turn's start (Claude Code, the demo agent) are known
        by their hooks; any other (Codex, a command, one that reported nothing yet) counts as in a
        turn too while its screen changed within ``idle_seconds``."""
        idle = self.idle_seconds(self.store.session(record.id), self.panes_by_session())
        if idle is None:
            return False
        hooks = self.store.last_event(record.id, AGENT_EVENT) is not None
        if hooks and self._profile_of(record).kind in ("claude", "demo"):
            return self._busy(record.id)
        return self._busy(record.id) or idle < self.config.idle_seconds

    def merge_plan(
        self,
        names: Sequence[str] | None,
        *,
        into: str | None = None,
        squash: bool = False,
        commit: bool = False,
        dry_run: bool = False,
    ) -> MergePlan:
        """Plan merging the named sessions (every live one when ``names`` is None), after
        finishing what a killed merge left behind (its notes say what). With ``commit``, each
        session's work in progress is committed first (with ``dry_run``, planned as if it were:
        see :func:`agentmux.core.sessions.commit_work.commit_for_merge`)."""
        notes = self._before_merge()
        records = [r for r in self.reconcile(drain=False) if r.status is not Status.QUEUED]
        if names is not None:
            records = [self.get(name) for name in dict.fromkeys(names)]
        if not records:
            raise AgentmuxError("there are no sessions to merge.")
        squashed = {r.id: s for r in records if (s := last_squash_merge(self.store, r.id))}
        target = into or default_into(records)
        work = commit_for_merge(self, records, dry_run=dry_run) if commit else None
        plan = plan_merge(self.repo, records, target, squash=squash, squashed=squashed, work=work)
        return replace(plan, notes=notes)

    def _before_merge(self) -> tuple[str, ...]:
        note = recover_landing(self.repo, self.home, self._record_merged)
        pruned = prune_integration(self.repo, self.home / "integration")
        return (
            *([note] if note else []),
            *(f"removed {p}, left by a killed merge --check" for p in pruned),
        )

    def _record_merged(self, plan: MergePlan, step: MergeStep) -> None:
        data = merged_event_data(plan.into, step.tip, plan.result, plan.squash)
        record_merged(self.store, step.session_id, data)

    def land_merge(self, plan: MergePlan) -> None:
        """Move the base branch to the plan's result (all or nothing) and record each merge."""
        land(self.repo, plan, self.home, self._record_merged)
        record_merge(self.store, plan, self.sessions, self.conflict_radar)

    def work_at_risk(self, record: SessionRecord) -> WorkAtRisk:
        """Uncommitted/untracked paths and commits not in the base that removal would drop
        (commits a squash merge took are merged, not at risk)."""
        risk = work_at_risk(self.repo, record)
        return without_squash_merged(self.repo, risk, last_squash_merge(self.store, record.id))

    def remove(
        self, name: str, *, force: bool = False, delete_branch: bool = False
    ) -> SessionRecord:
        """Remove a session's worktree (and tmux session), never losing work.

        Without ``force`` it refuses a running agent, a process in the worktree and any work not
        in the base. With ``force`` everything that can fail is tried first (see
        :mod:`agentmux.core.sessions.removal`); then the agent is stopped, then all its work
        recorded on
        ``refs/agentmux/archive/<name>/<time>-<id>`` (and refs beside it for nested
        repositories), and only then is anything removed.
        """
        with repo_lock(self._lock_path):
            self.reconcile(drain=False, locked=True)
            record = self.get(name)
            pane = self.panes_by_session().get(record.id)
            alive = pane is not None and not pane.dead
            spare = (str(self._tick_script),)
            squash = last_squash_merge(self.store, record.id)
            with removal(
                self.repo,
                record,
                force=force,
                delete_branch=delete_branch,
                spare=spare,
                merged=lambda risk: without_squash_merged(self.repo, risk, squash),
            ) as plan:
                plan.preflight(agent_alive=alive, agent_pid=pane.pane_pid if pane else None)
                if alive:
                    # Stopped before the snapshot, so nothing it writes while ending is lost.
                    pane = self._terminate(record)
                kept = plan.archive()
                if pane is not None:
                    self.tmux.kill_agent_session(pane)
                plan.delete()
            self.store.update_session(
                record.id,
                "removed",
                {
                    "archive_ref": kept.ref,
                    "nested_refs": kept.nested_refs,
                    "left_in_place": plan.left_in_place,
                    "branch_deleted": delete_branch,
                },
                status=Status.REMOVED,
                removed_at=time.time(),
                archive_ref=kept.ref,
                ended_at=record.ended_at or time.time(),
                prompt=None,
            )
            self._emit(
                SessionRemoved(
                    record.name,
                    record.id,
                    kept.ref,
                    tuple(kept.nested_refs),
                    tuple(kept.files_only),
                    plan.left_in_place,
                )
            )
            self.started_by_last_drain = [r.id for r in self._drain_locked()]
            if not self.tmux.panes():
                self.tmux.kill_server()  # nothing left on it: no idle server lingers
            return self.store.session(record.id)

    def attach_argv(self, name: str) -> list[str]:
        """argv for a full-screen attach to a session's tmux session."""
        record = self.get(name)
        pane = self.panes_by_session().get(record.id)
        if pane is None:
            raise AgentmuxError(f"session {name!r} has no tmux session ({record.status}).")
        return self.tmux.attach_argv(pane.session_id)
