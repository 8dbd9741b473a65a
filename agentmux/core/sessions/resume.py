"""Resume: bring back sessions whose agent is gone (``lost``, ``exited`` or ``stopped``).

Each comes back in a new tmux session, in its own worktree, on its branch, running its agent
profile, and continues the same conversation by its exact id, never "the most recent one":

- Claude Code: ``claude --resume <id>``, the id agentmux gave it with ``--session-id``;
- Codex: ``codex resume <id>``, the id in the ``session_meta`` of the session's own rollout;
- the demo agent: ``--resume <id>``, its own transcript going on;
- a configured agent: its profile's ``resume`` command, ``{session_id}`` being the id.

An agent with no conversation to continue (no transcript or rollout yet), or a profile with no
resume command, starts fresh, and the outcome says why. Resumed sessions respect
``max_sessions``: each is queued, under the repository lock, and the queue's own drain starts
those that fit (a resumed session takes its place by creation order, as every queued one does).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.agents.profiles import AgentProfile, demo_transcript_root, resolve_profile
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.host import Host
from agentmux.core.metrics.claude_transcript_files import claude_config_dir, find_main_files
from agentmux.core.metrics.codex_rollouts import codex_home, find_rollout, read_meta
from agentmux.core.metrics.resumed_transcripts import last_conversation
from agentmux.core.metrics.runs import RESUMED, RunHistory, feed_resumed, first_start, resumed_data
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.manager import NO_TMUX_IDS, SessionManager
from agentmux.core.sessions.names import validate_name

#: The statuses a session can be resumed from.
RESUMABLE = frozenset({Status.LOST, Status.EXITED, Status.STOPPED})
#: Slack for clocks when matching a Codex rollout to the agent's start (as the metrics do).
CLOCK_SLACK = 5.0


@dataclass(frozen=True)
class ResumeOutcome:
    """What became of one session asked to resume."""

    name: str
    outcome: Literal["resumed", "queued", "fresh", "refused"]  # fresh: without its conversation
    message: str  # the one sentence shown to the user
    mode: Literal["continue", "fresh"] | None = None  # how it starts (now, or when queued)
    conversation_id: str | None = None  # the agent's conversation it continues, if any


@dataclass(frozen=True)
class ResumePlan:
    """How one session's agent comes back."""

    argv: list[str]
    mode: Literal["continue", "fresh"]
    conversation_id: str | None
    why_fresh: str | None = None


def resumable(record: SessionRecord) -> bool:
    """Whether the session's agent is gone, so it can be resumed (its worktree not checked)."""
    return record.status in RESUMABLE


def short_id(conversation_id: str) -> str:
    """A conversation id as shown: the first block of a random (version 4) UUID, as Claude Code
    and agentmux make them; any other id whole (a Codex id is a version 7 UUID, whose first
    block is a timestamp that sessions started in the same minute share)."""
    try:
        parsed = uuid.UUID(conversation_id)
    except ValueError:
        return conversation_id
    return str(parsed).split("-", 1)[0] if parsed.version == 4 else conversation_id


def plan_resume(
    record: SessionRecord,
    profile: AgentProfile,
    history: RunHistory | None = None,
    last: str | None = None,
) -> ResumePlan:
    """The command line that brings ``record``'s agent back, continuing its conversation when
    there is one to continue (``history``: its earlier runs and resumes; ``last``: the
    conversation the agent last reported being in, which after Claude Code's ``/clear`` is not
    the one the session started with)."""
    history = history or RunHistory([])
    env = {**os.environ, **profile.env}
    conversation: str | None = record.agent_session_id
    if profile.kind in ("claude", "demo") and last and last != conversation:
        root = demo_transcript_root() if profile.kind == "demo" else claude_config_dir(env)
        if find_main_files(last, root):
            return _continue(profile, last)
    if profile.kind == "codex":
        conversation = history.conversation_id or codex_conversation(record, history, env)
        if conversation is None:
            why = "Codex had not written a conversation for it yet"
            return ResumePlan(profile.argv(record.agent_session_id), "fresh", None, why)
    elif profile.kind in ("claude", "demo"):
        root = demo_transcript_root() if profile.kind == "demo" else claude_config_dir(env)
        if not find_main_files(record.agent_session_id, root):
            # Nothing to continue: the same id again, for a conversation that starts now.
            why = "its agent had not begun a conversation yet"
            return ResumePlan(profile.argv(record.agent_session_id), "fresh", conversation, why)
    if conversation is None:
        why = f"agent {profile.name!r} has no resume command"
        return ResumePlan(profile.argv(record.agent_session_id), "fresh", None, why)
    return _continue(profile, conversation, record.agent_session_id)


def _continue(profile: AgentProfile, conversation: str, fallback: str | None = None) -> ResumePlan:
    """Continue ``conversation``; without a resume command, start afresh (as ``fallback``)."""
    argv = profile.resume_argv(conversation)
    if argv is None:
        why = f"agent {profile.name!r} has no resume command"
        return ResumePlan(profile.argv(fallback or conversation), "fresh", None, why)
    return ResumePlan(argv, "continue", conversation)


def codex_conversation(
    record: SessionRecord, history: RunHistory, env: dict[str, str]
) -> str | None:
    """The id of the session's own Codex rollout: the first one in its worktree since its agent
    first started (read from the rollout's ``session_meta``), or None when there is none yet."""
    first = first_start(history.runs, record)
    if first is None:
        return None
    after = datetime.fromtimestamp(first - CLOCK_SLACK, tz=UTC)
    path = find_rollout(cwd=record.worktree, started_after=after, home=codex_home(env))
    meta = read_meta(path) if path is not None else None
    return meta.session_id if meta is not None and meta.session_id else None


def resume_sessions(manager: SessionManager, names: Sequence[str] | None) -> list[ResumeOutcome]:
    """Resume the named sessions (``None``: every resumable one), one outcome per name, in the
    order given. Refusals are outcomes too, never exceptions; the ids of sessions started are
    in ``manager.started_by_last_drain`` (their held prompts wait for a tick)."""
    manager.writable("resume sessions")
    outcomes: dict[str, ResumeOutcome] = {}
    with manager.locked():
        manager.reconcile(drain=False, locked=True)
        if names is None:
            targets = [r.name for r in manager.sessions() if resumable(r)]
        else:
            targets = list(dict.fromkeys(names))
        histories: dict[str, RunHistory] = {}
        for event in manager.store.events(kinds=(RESUMED,)):
            feed_resumed(histories, event)
        prepared: dict[str, tuple[SessionRecord, ResumePlan]] = {}
        for name in targets:
            try:
                prepared[name] = _prepare(manager, name, histories)
            except AgentmuxError as exc:
                outcomes[name] = ResumeOutcome(name, "refused", exc.message)
        manager.started_by_last_drain = []
        if prepared:
            manager.drain_locked()
        for name, (record, plan) in prepared.items():
            outcomes[name] = _outcome(manager, record, plan)
    return [outcomes[name] for name in targets]


def _prepare(
    manager: SessionManager, name: str, histories: dict[str, RunHistory]
) -> tuple[SessionRecord, ResumePlan]:
    """Check one session can resume, and queue it with the command line that resumes it."""
    record = _find(manager, name)
    if record.status.is_live:
        raise AgentmuxError(f"{name} is already running.")
    if record.status is Status.QUEUED:
        raise AgentmuxError(f"{name} is already queued; it starts when a slot frees.")
    if not manager.host.is_worktree_of(manager.repo, Path(record.worktree)):
        raise AgentmuxError(_worktree_gone(manager, record))
    try:
        profile = resolve_profile(manager.config, record.agent)
    except AgentmuxError as exc:
        raise AgentmuxError(f"{name} cannot be resumed: {exc.message}") from exc
    reported = manager.store.events(record.id, kinds=(AGENT_EVENT, RESUMED))
    plan = plan_resume(record, profile, histories.get(record.id), last_conversation(reported))
    _require(profile, plan.argv[0], name)
    pane = manager.panes_by_session().get(record.id)
    if pane is not None:
        if not pane.dead:
            raise AgentmuxError(
                f"{name} cannot be resumed yet: the pane of its last agent is still alive; "
                "try again in a moment."
            )
        manager.host.kill_agent_session(pane)  # its dead pane, kept only for its last screen
    # The record describes the run about to start; the one before is kept in the event.
    manager.store.update_session(
        record.id,
        RESUMED,
        resumed_data(record, plan.mode, plan.conversation_id),
        status=Status.QUEUED,
        queued_at=time.time(),
        started_at=None,
        ended_at=None,
        exit_status=None,
        exit_signal=None,
        argv=plan.argv,
        **NO_TMUX_IDS,
    )
    return record, plan


def _find(manager: SessionManager, name: str) -> SessionRecord:
    """The session called ``name``; a removed one is named as removed, an unknown one as such."""
    validate_name(name)
    record = manager.store.session_by_name(name)
    if record is not None:
        return record
    removed = [r for r in manager.sessions(include_removed=True) if r.name == name]
    if removed:
        last = removed[-1]
        if last.archive_ref:
            kept = f"; its work is kept on {last.archive_ref}"
        elif git.ref_exists(manager.repo, f"refs/heads/{last.branch}"):
            kept = f"; its branch {last.branch} is kept"
        else:
            kept = ""
        raise AgentmuxError(
            f"{name} was removed{kept}: there is nothing to resume (start a new session with "
            "`agentmux new`)."
        )
    return manager.get(name)


def _worktree_gone(manager: SessionManager, record: SessionRecord) -> str:
    """The sentence refusing a session whose worktree is gone, naming where its work is."""
    path = Path(record.worktree)
    what = "is no longer a git worktree" if manager.host.path_exists(path) else "is gone"
    if git.ref_exists(manager.repo, f"refs/heads/{record.branch}"):
        kept = f"its work is on branch {record.branch}"
    elif record.archive_ref:
        kept = f"its work is kept on {record.archive_ref}"
    else:
        kept = f"its branch {record.branch} is gone too"
    return f"{record.name} cannot be resumed: its worktree {path} {what} ({kept})."


def _branch_note(host: Host, record: SessionRecord) -> str:
    """``; its worktree is on X, not agentmux/NAME`` when the agent (or you) checked out
    something else there: resume never changes a worktree's checkout, which could lose work."""
    ref = host.checked_out_ref(Path(record.worktree))
    head = ref.removeprefix("refs/heads/") if ref else None
    if head == record.branch:
        return ""
    what = f"branch {head}" if head else "a detached HEAD"
    return f"; its worktree is on {what}, not {record.branch}"


def _require(profile: AgentProfile, program: str, name: str) -> None:
    """Refuse, in one sentence, a resume whose program is not installed."""
    if program == profile.program:
        try:
            profile.require_program()
        except AgentmuxError as exc:
            raise AgentmuxError(f"{name} cannot be resumed: {exc.message}") from exc
    elif profile.find_program(program) is None:
        raise AgentmuxError(
            f"{name} cannot be resumed: agent {profile.name!r} resumes with the program "
            f"{program!r}, which is not installed or not on PATH."
        )


def _outcome(manager: SessionManager, record: SessionRecord, plan: ResumePlan) -> ResumeOutcome:
    """What the queue's drain made of one prepared session."""
    name = record.name
    now = manager.store.session(record.id)
    fresh = plan.mode == "fresh"
    note = _branch_note(manager.host, record)
    if now.status is Status.QUEUED:
        limit = manager.config.max_sessions
        then = f"; it starts fresh then: {plan.why_fresh}" if fresh else ""
        message = f"queued {name}: no free slot (max_sessions = {limit}){then}{note}"
        return ResumeOutcome(name, "queued", message, plan.mode, plan.conversation_id)
    if now.status.is_live:
        if fresh:
            message = f"{name} restarted fresh: {plan.why_fresh}{note}"
            return ResumeOutcome(name, "fresh", message, plan.mode, plan.conversation_id)
        assert plan.conversation_id is not None
        short = short_id(plan.conversation_id)
        message = f"resumed {name} (same conversation {short}){note}"
        return ResumeOutcome(name, "resumed", message, plan.mode, plan.conversation_id)
    # The drain could not start it (and said why in the `lost` event it recorded).
    lost = manager.store.last_event(record.id, "lost")
    reason = str(lost["data"].get("reason")) if lost else f"it is {now.status}"
    message = f"{name} could not be resumed: {reason.rstrip('.')}."
    return ResumeOutcome(name, "refused", message, plan.mode, plan.conversation_id)
