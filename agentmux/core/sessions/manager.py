"""Agent sessions: each a branch, a worktree and a tmux session, recorded in the state store.

:class:`SessionManager` is the one entry point the CLI and the UI use: a small facade over focused
collaborators (see the package's docstring), holding what they share (repository, config, state
store, host, the repository lock) and the little state kept between calls. Every operation
that starts or removes sessions holds the repository lock, so two agentmux processes cannot exceed
the concurrency limit or start a queued session twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.agents.profiles import AgentProfile, all_profiles, resolve_profile
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import EventSink, SessionEvent, ignore_events
from agentmux.core.git import repo as git
from agentmux.core.git.reachability import ref_tips
from agentmux.core.host.local import LocalHost, TmuxServer, require_tmux
from agentmux.core.locking import repo_lock
from agentmux.core.paths import ensure_private_dir, repo_key
from agentmux.core.records import LOCAL_HOST, SessionRecord, Status
from agentmux.core.sessions.delivery import Delivery
from agentmux.core.sessions.held import HeldPrompts
from agentmux.core.sessions.lifecycle import Lifecycle, worktree_root
from agentmux.core.sessions.names import validate_name
from agentmux.core.sessions.reconcile import NO_TMUX_IDS, Reconciler
from agentmux.core.sessions.teardown import Teardown
from agentmux.core.sessions.turns import Turns
from agentmux.core.state import StateStore
from agentmux.core.tmux.socket_pin import SocketPin

if TYPE_CHECKING:
    # Imported where they are used: the settings' models, the collaborators for budgets, merges
    # and other hosts (and what they import) cost a CLI verb that needs none of them most of its
    # start-up.
    from agentmux.core.config.settings import Config
    from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
    from agentmux.core.git.merge import MergePlan
    from agentmux.core.host import Host, PaneInfo, RadarWatcher, Screen, WorkAtRisk
    from agentmux.core.host.cockpit import CockpitMirror
    from agentmux.core.metrics.budgets import BudgetState
    from agentmux.core.metrics.collector import MetricsCollector, SessionMetrics
    from agentmux.core.sessions.budgets import Budgets
    from agentmux.core.sessions.merging import Merging
    from agentmux.core.sessions.remote_sessions import RemoteSessions

__all__ = ["NO_TMUX_IDS", "SessionManager"]


class SessionManager:
    """Creates, tracks, stops and removes the agent sessions of one repository (each method's
    full contract is in the docstring of the collaborator that does the work)."""

    def __init__(
        self,
        repo: git.Repo,
        config: Config | None = None,
        *,
        on_event: EventSink = ignore_events,
    ) -> None:
        self.repo = repo
        if config is not None:
            self.__dict__["config"] = config  # the cached_property's value, given
        self.on_event = on_event
        #: A read-only cockpit's manager (``agentmux serve --read-only``): every operation that
        #: would change a session, type into an agent or move a branch raises instead.
        self.read_only = False
        try:
            self.home = ensure_private_dir(repo.common_dir / "agentmux")
        except OSError as exc:
            raise AgentmuxError(
                f"cannot create agentmux's directory in {repo.common_dir}: {exc.strerror}."
            ) from exc
        self.store = StateStore(self.home / "state.db")
        key = self._key = repo_key(repo.common_dir)
        self._socket = SocketPin(self.store, key)
        #: The machine the sessions run on (see :mod:`agentmux.core.host`).
        self.host: Host = LocalHost.open(self._socket.path, self.home, key)
        self._lock_path = self.home / "lock"
        self.started_by_last_drain: list[str] = []
        # The panes the last reconcile saw, for callers that need them too (the TUI's idle times).
        self.last_panes: dict[str, PaneInfo] = {}
        self.lifecycle = Lifecycle(self)
        self.teardown = Teardown(self)
        self.reconciler = Reconciler(self)
        self.delivery = Delivery(self)
        self.held = HeldPrompts(self)
        self.turns = Turns(self)

    @cached_property
    def config(self) -> Config:
        """The user's and the repository's settings, read on first use: a verb that needs none
        (``ls``, a hook) never pays for the models that check them."""
        from agentmux.core.config.settings import load_config  # noqa: PLC0415 - see above

        return load_config(self.repo.root)

    @cached_property
    def worktree_root(self) -> Path:
        """Where the sessions' worktrees go (see :func:`lifecycle.worktree_root`)."""
        return worktree_root(self.repo, self.config, self._key)

    @cached_property
    def budgets(self) -> Budgets:
        """Budgets and metrics (made on first use)."""
        from agentmux.core.sessions.budgets import Budgets  # noqa: PLC0415 - see the imports

        return Budgets(self)

    @cached_property
    def merging(self) -> Merging:
        """The radar and merges (made on first use)."""
        from agentmux.core.sessions.merging import Merging  # noqa: PLC0415 - see the imports

        return Merging(self)

    @cached_property
    def remote(self) -> RemoteSessions:
        """Sessions on other hosts (see :mod:`agentmux.core.sessions.remote_sessions`)."""
        from agentmux.core.sessions.remote_sessions import (  # noqa: PLC0415 - see the imports
            RemoteSessions,
        )

        return RemoteSessions(self)

    def runs_elsewhere(self, name: str) -> bool:
        """Whether ``name`` is a live session on another host (read here, no host asked)."""
        return self.store.remote_by_name(name) is not None

    @classmethod
    def open(cls, cwd: Path, *, on_event: EventSink = ignore_events) -> SessionManager:
        """Open the repository containing ``cwd``, checking tmux and git first (its settings are
        read, and checked, when first used)."""
        require_tmux()
        repo = git.discover_repo(cwd)
        return cls(repo, on_event=on_event)

    def close(self) -> None:
        """Release the state store."""
        self.store.close()

    @property
    def tmux(self) -> TmuxServer:
        """The local host's tmux server (tests, and the TUI's screen mirror, which connects to
        its socket); the core itself goes through :attr:`host`."""
        if not isinstance(self.host, LocalHost):
            raise AgentmuxError(f"the sessions run on host {self.host.name!r}, not this machine.")
        return self.host.server

    def follow_saved_socket(self) -> None:
        """Use the socket another process saved since this one chose (see :class:`SocketPin`)."""
        if (socket := self._socket.saved_elsewhere()) is not None:
            self.host = LocalHost.open(socket, self.home, self._key)

    def socket_worked(self) -> None:
        """A session has started on the socket: keep it for the repository."""
        self._socket.worked()

    # --- shared by the collaborators -------------------------------------------------------------

    def writable(self, what: str) -> None:
        """Raise (one sentence) when this manager is read-only; ``what`` is being refused."""
        if self.read_only:
            raise AgentmuxError(f"this cockpit is read-only: it does not {what}.")

    def emit(self, event: SessionEvent) -> None:
        """Tell the caller (CLI or UI) what happened."""
        self.on_event(event)

    def lock_file(self, kind: str, session_id: str) -> Path:
        """A per-session lock file of ``kind`` (``deliver``, ``budget``) in agentmux's directory:
        it coordinates agentmux processes, so it lives beside the state store, not on the host."""
        return ensure_private_dir(self.home / kind) / session_id

    def profile_of(self, record: SessionRecord) -> AgentProfile:
        """The agent profile a session runs (the demo agent's when it is no longer configured)."""
        profiles = all_profiles(self.config)
        return profiles.get(record.agent) or resolve_profile(self.config, "demo")

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The repository lock that starts, stops and removals hold (not re-entrant)."""
        return repo_lock(self._lock_path)

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
        """The agents' tmux panes by the session id tagged on each."""
        return self.reconciler.panes_by_session(settle=settle, listing=listing)

    def idle_seconds(self, record: SessionRecord, panes: dict[str, PaneInfo]) -> float | None:
        """Seconds since the session's screen last changed, or None when it is not running."""
        pane = panes.get(record.id)
        if record.status is not Status.RUNNING or pane is None or pane.dead:
            return None
        return max(0.0, time.time() - pane.activity)

    def branch_heads(self) -> dict[str, str]:
        """Each local branch's tip commit, by branch name (one git call)."""
        tips = ref_tips(self.repo, "refs/heads/")
        return {ref.removeprefix("refs/heads/"): oid for ref, oid in tips.items()}

    def in_turn(self, record: SessionRecord) -> bool:
        """Whether the session's agent may be in the middle of a turn now."""
        return self.turns.in_turn(record)

    def attach_argv(self, name: str) -> list[str]:
        """argv for a full-screen attach to a session's tmux session."""
        record = self.get(name)
        pane = self.panes_by_session().get(record.id)
        if pane is None:
            raise AgentmuxError(f"session {name!r} has no tmux session ({record.status}).")
        return self.host.attach_argv(pane.session_id)

    # --- lifecycle -------------------------------------------------------------------------------

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
        """Create a session: record, branch, worktree, and (when a slot is free) the agent."""
        self.writable("start sessions")
        return self.lifecycle.create(
            agent=agent, name=name, base=base, prompt=prompt, deliver=deliver, budget=budget
        )

    def reconcile(self, *, drain: bool = True, locked: bool = False) -> list[SessionRecord]:
        """Bring records in line with the tmux server, then start queued sessions if slots free.

        Returns the live (not removed) sessions afterwards; the ids of sessions this call
        started are in :attr:`started_by_last_drain`.
        """
        if not locked:
            with self.locked():
                return self.reconciler.reconcile(drain=drain)
        return self.reconciler.reconcile(drain=drain)

    def drain_locked(self) -> list[SessionRecord]:
        """Start queued sessions while slots are free (the lock held; for
        :mod:`agentmux.core.sessions.resume`)."""
        started = self.lifecycle.drain()
        self.started_by_last_drain = [r.id for r in started]
        return started

    def stop(self, name: str) -> SessionRecord:
        """End a session's agent (SIGTERM, then SIGKILL), or take a queued one off the queue
        (its host does, for a session on another host)."""
        self.writable("stop agents")
        if self.runs_elsewhere(name):
            self.remote.stop(name)
            return self._remote_record(name)
        return self.teardown.stop(name)

    def remove(
        self, name: str, *, force: bool = False, delete_branch: bool = False
    ) -> SessionRecord:
        """Remove a session's worktree (and tmux session), never losing work (by its host's
        rules, its work fetched here first, for a session on another host)."""
        self.writable("remove sessions")
        row = self.store.remote_by_name(name)
        if row is not None:
            self.remote.remove(name, force=force, delete_branch=delete_branch)
            gone = self.store.remote_by_id(row.id)
            from agentmux.core.sessions.remote_sessions import remote_record  # noqa: PLC0415

            record = remote_record(gone) if gone is not None else None
            if record is None:
                raise AgentmuxError(f"session {name!r} was removed, but its record is unreadable.")
            return record
        return self.teardown.remove(name, force=force, delete_branch=delete_branch)

    # --- prompts ---------------------------------------------------------------------------------

    def deliver_prompt(self, session_id: str) -> bool:
        """Type a session's pending prompt once the agent is ready; True when delivered."""
        self.writable("type prompts")
        return self.delivery.deliver_prompt(session_id)

    def pending_deliveries(self) -> list[SessionRecord]:
        """Running sessions whose prompt still waits to be typed (and has not failed to)."""
        return self.delivery.pending_deliveries()

    def send(
        self, name: str, text: bytes, *, submit: bool = True, hold: bool = True
    ) -> SessionRecord:
        """Type ``text`` into a running session's agent, as a bracketed paste, then Enter (on
        the session's host when it runs on another)."""
        self.writable("type into agents")
        if self.runs_elsewhere(name):
            self.remote.send(name, text, submit=submit, hold=hold)
            return self._remote_record(name)
        return self.delivery.send(name, text, submit=submit, hold=hold)

    def broadcast(self, text: bytes, to: str = "all") -> list[str]:
        """Send ``text`` to several running sessions, here and on other hosts; return the names
        it reached."""
        self.writable("type into agents")
        if not self.store.remote_sessions():
            return self.delivery.broadcast(text, to)
        if to in ("all", "idle"):
            reached = self.delivery.broadcast(text, to)
            return reached + self.remote.broadcast(text, to)
        names = [n.strip() for n in to.split(",") if n.strip()]
        elsewhere = [n for n in names if self.remote.find(n) is not None]
        here = [n for n in names if n not in elsewhere]
        reached = self.delivery.broadcast(text, ",".join(here)) if here else []
        return reached + (self.remote.broadcast(text, elsewhere) if elsewhere else [])

    def cockpit_mirror(
        self, on_screen: Callable[[Screen], None], on_state: Callable[[str, str], None]
    ) -> CockpitMirror:
        """Live panes of every session, here and on other hosts (not yet started):
        ``on_state(host, state)`` for each connection."""
        from agentmux.core.host.cockpit import CockpitMirror  # noqa: PLC0415 - see the imports
        from agentmux.core.host.ssh import SshConnection  # noqa: PLC0415

        local = self.host.mirror(on_screen, lambda state: on_state(LOCAL_HOST, state))

        def hosts() -> dict[str, tuple[SshConnection, str]]:
            found = self.remote.sockets()
            return {h: (self.remote.host(h).connection, socket) for h, socket in found.items()}

        return CockpitMirror(local, hosts, on_screen, on_state)

    def _remote_record(self, name: str) -> SessionRecord:
        from agentmux.core.sessions.remote_sessions import remote_record  # noqa: PLC0415

        row = self.remote.find(name)
        record = remote_record(row) if row is not None else None
        if record is None:
            raise AgentmuxError(f"there is no session named {name!r} (see `agentmux ls`).")
        return record

    def deliver_held(self, session_id: str, *, wait: bool = False) -> bool:
        """Type the oldest held prompt if the agent is idle now; True when one was typed."""
        self.writable("type prompts")
        return self.held.deliver_held(session_id, wait=wait)

    def deliver_held_all(self, *, wait: bool = False) -> list[str]:
        """Release held prompts of every idle running session; the names that got one. With
        ``wait``, a session another process is typing into is waited for a moment (a turn's
        end must not find the lock taken by a ``send`` that already looked and give up)."""
        self.writable("type prompts")
        return self.held.deliver_held_all(wait=wait)

    # --- budgets and metrics ---------------------------------------------------------------------

    def budget_states(self) -> dict[str, BudgetState]:
        """Each session's budget, and whether it was reached."""
        return self.budgets.states()

    def set_budget(self, name: str, usd: Decimal) -> SessionRecord:
        """Set (or raise) a session's budget; a reached budget that is raised lets prompts in."""
        self.writable("change budgets")
        return self.budgets.set(name, usd)

    def enforce_budgets(self, metrics: Sequence[SessionMetrics]) -> list[str]:
        """Stop sessions whose known spend reached their budget: interrupt the agent, record it,
        and refuse further prompts. Returns the names newly stopped."""
        self.writable("stop agents")
        return self.budgets.enforce(metrics)

    def metrics(
        self, records: list[SessionRecord], collector: MetricsCollector | None = None
    ) -> list[SessionMetrics]:
        """Metrics of ``records`` with their budgets and agent events (a collector kept between
        calls reads transcripts incrementally)."""
        return self.budgets.metrics(records, collector)

    def metrics_collector(self) -> MetricsCollector:
        """A collector that finds each session's transcripts where its agent writes them (its
        profile's environment may move Claude Code's or Codex's config dir)."""
        return self.budgets.collector()

    # --- radar and merges ------------------------------------------------------------------------

    def conflict_radar(self) -> ConflictRadar:
        """A conflict radar over this repository's sessions (snapshots kept in agentmux's dir)."""
        return self.merging.conflict_radar()

    def radar_watcher(self, on_report: Callable[[ConflictReport], object]) -> RadarWatcher:
        """The conflict radar kept current: this machine's worktrees watched, the sessions on
        other hosts compared through the work their hosts export (see
        :class:`~agentmux.core.git.radar_watch.RadarWatcher`)."""
        watcher = self.host.radar_watcher(self.conflict_radar(), self.repo, on_report)
        watcher.remote_work = self.remote.exported_work
        return watcher

    def merge_plan(
        self,
        names: Sequence[str] | None,
        *,
        into: str | None = None,
        squash: bool = False,
        commit: bool = False,
        dry_run: bool = False,
    ) -> MergePlan:
        """Plan merging the named sessions (every live one when ``names`` is None)."""
        self.writable("merge")
        return self.merging.plan(names, into=into, squash=squash, commit=commit, dry_run=dry_run)

    def land_merge(self, plan: MergePlan) -> list[str]:
        """Move the base branch to the plan's result (all or nothing) and record each merge
        (a remote session's on its host too); a sentence for each host that was not told."""
        self.writable("merge")
        return self.merging.land(plan)

    def work_at_risk(self, record: SessionRecord) -> WorkAtRisk:
        """Uncommitted/untracked paths and commits not in the base that removal would drop
        (commits a squash merge took are merged, not at risk)."""
        return self.merging.work_at_risk(record)
