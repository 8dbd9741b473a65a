"""What the agents tell agentmux about themselves, through their own hook mechanisms.

Claude Code sessions (and demo sessions, which imitate them) get a per-session ``--settings``
whose hooks run ``python -m agentmux.commands.hook``; Codex gets the same program as its
``notify`` command. Each call records an ``agent_event`` in the state store. From those events
agentmux knows, without reading the screen, whether an agent is working or waiting for you, and
for how long it has waited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HOOK_MODULE = "agentmux.commands.hook"
#: The Claude Code hook events agentmux listens to.
CLAUDE_HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "PermissionRequest",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
# An agent waits for you from one of these until it works again (or ends).
_WAIT_STARTS = {
    "Stop",
    "StopFailure",
    "Notification",
    "PermissionRequest",
    "agent-turn-complete",
    "Interrupted",
}
_WAIT_ENDS = {"UserPromptSubmit", "PostToolUse", "PreToolUse", "SessionStart", "SessionEnd"}
#: The agent's turn is over: a held prompt can be typed now.
TURN_ENDS = frozenset({"Stop", "StopFailure", "agent-turn-complete"})
#: Waits that ask something of the human (the TUI marks these "waiting for you"; an agent idle
#: after a finished turn is "idle", though that time counts as waiting on you too).
NEEDS_ANSWER = frozenset({"PermissionRequest", "Notification", "StopFailure"})
#: Claude Code fires no hook when the user interrupts a turn; the transcript records it. The
#: event agentmux takes the place of the missing one with (a turn's end, waiting on you).
INTERRUPTED = "Interrupted"
#: How long a hook may take to record its event (a Python start on a busy machine): a tool hook
#: recorded this soon after an interruption belongs to the turn that was interrupted.
HOOK_LAG = 3.0
#: Events during which the agent is in the middle of a turn (a question counts: a prompt typed
#: into it would be taken as the answer).
WORKING_EVENTS = frozenset({"UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest"})
# A prompt agentmux typed also ends a wait (Codex reports no prompt-submit event).
PROMPT_SENT = "prompt_sent"
AGENT_EVENT = "agent_event"
#: Not a stored event: the end of one run of the agent (a resume says when the run before ended).
RUN_ENDED = "run_ended"
#: The hash of a session's hook secret (the secret itself is only in the agent's environment).
HOOK_KEY = "hook_key"
SECRET_ENV = "AGENTMUX_HOOK_SECRET"  # noqa: S105 - the variable's name, not a secret


def new_hook_secret() -> tuple[str, str]:
    """A fresh per-session secret and the hash agentmux keeps of it."""
    secret = secrets.token_hex(16)
    return secret, secret_hash(secret)


def secret_hash(secret: str) -> str:
    """What is stored to check a secret by (the store never holds the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str | None, given: str | None) -> bool:
    """Whether a hook call carries the secret of the session it claims to be."""
    if stored_hash is None or given is None:
        return False
    return hmac.compare_digest(stored_hash, secret_hash(given))


def hook_argv(python: str | None = None) -> list[str]:
    """The hook program, as an argument list."""
    return [python or sys.executable, "-m", HOOK_MODULE]


def claude_settings(python: str | None = None) -> str:
    """A ``--settings`` JSON document whose hooks report every event agentmux uses."""
    command = " ".join(_sh_quote(arg) for arg in hook_argv(python))
    hooks: dict[str, Any] = {
        event: [{"matcher": "*", "hooks": [{"type": "command", "command": command}]}]
        if event in ("PreToolUse", "PostToolUse", "PermissionRequest")
        else [{"hooks": [{"type": "command", "command": command}]}]
        for event in CLAUDE_HOOK_EVENTS
    }
    return json.dumps({"hooks": hooks}, separators=(",", ":"))


def codex_notify_args(python: str | None = None) -> list[str]:
    """``-c notify=[...]`` for Codex: it runs the program with one JSON argument per event."""
    program = ", ".join(json.dumps(arg) for arg in [*hook_argv(python), "--codex"])
    return ["-c", f"notify=[{program}]"]


def _sh_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "@%+=:,./-_" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


#: Codex (0.169) names each new task in a side turn of its own, on a thread of its own, and reports
#: that turn's end through ``notify`` like any other: usually while the user's turn still runs.
CODEX_TITLE_PROMPT = "Generate a concise, single-line task title"


def is_side_turn(payload: Mapping[str, Any]) -> bool:
    """A Codex ``notify`` for its own task-title turn: says nothing about the user's turn."""
    messages = payload.get("input-messages")
    return (
        payload.get("type") == "agent-turn-complete"
        and isinstance(messages, list)
        and bool(messages)
        and isinstance(messages[0], str)
        and messages[0].startswith(CODEX_TITLE_PROMPT)
    )


#: The key of an event's data that names the agent's conversation (its transcript's id).
CONVERSATION = "conversation_id"
# Where each event names it: Claude Code's SessionStart hook, Codex's notify.
_CONVERSATION_KEYS = {"SessionStart": "session_id", "agent-turn-complete": "thread-id"}


def event_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a hook's input worth keeping (never the prompt text or tool input)."""
    name = payload.get("hook_event_name") or payload.get("type") or "unknown"
    data: dict[str, Any] = {"event": str(name)}
    for key in ("tool_name", "notification_type", "source", "reason", "error"):
        value = payload.get(key)
        if isinstance(value, str):
            data[key] = value[:200]
    message = payload.get("message")
    if isinstance(message, str):
        data["message"] = message[:200]
    # Which conversation the agent is in: it changes on /clear (Claude Code) or a fresh restart,
    # and metrics follow every one the session had (agentmux.core.metrics.resumed_transcripts).
    conversation = payload.get(_CONVERSATION_KEYS.get(str(name), ""))
    if isinstance(conversation, str) and conversation:
        data[CONVERSATION] = conversation[:200]
    return data


@dataclass(frozen=True)
class Activity:
    """An agent's state as its own events tell it."""

    known: bool  # any agent event at all: otherwise everything here is unknown
    waiting: bool = False
    waiting_since: float | None = None
    waiting_total: float | None = None  # seconds, including the wait going on now
    waiting_current: float | None = None  # seconds of the wait going on now, if any
    last_event: str | None = None
    #: The event that began the wait going on now ("Stop": idle after a turn; "PermissionRequest":
    #: a question for you; ...).
    wait_reason: str | None = None

    @property
    def needs_answer(self) -> bool:
        """Waiting on a question or a failure, not merely idle after a finished turn."""
        return self.waiting and self.wait_reason in NEEDS_ANSWER


class ActivityTracker:
    """Working or waiting, and how long the agent has waited for you, kept up to date one event
    at a time (``agent_event`` and ``prompt_sent`` records of one session, oldest first), so a
    refresh costs only the events since the last one.

    Interruptions come from the transcript (no hook reports them) through :meth:`note_interrupts`
    and are taken in their place in time; one that turns up after later events were taken makes
    the tracker go over its events again (rare: a user interrupting).
    """

    def __init__(self) -> None:
        self.known = False
        self._log: list[tuple[float, str]] = []
        self._interrupts: set[float] = set()
        self._reset()

    def _reset(self) -> None:
        self.total = 0.0
        self.since: float | None = None
        self.reason: str | None = None
        self.last: str | None = None
        self.last_ts = 0.0
        self._taken = 0  # entries of the log taken into the state
        self._pending = sorted(self._interrupts)  # interruptions not yet reached in time

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one more event into account."""
        if event["kind"] == AGENT_EVENT:
            self.known = True
            name = str(event["data"].get("event"))
        elif event["kind"] == PROMPT_SENT:
            name = PROMPT_SENT
        elif event["kind"] == RUN_ENDED:
            name = "SessionEnd"  # the agent is gone: it waits for nobody (until it is resumed)
        else:
            return
        ts = float(event["ts"])
        self._log.append((ts, name))
        if ts < self.last_ts:
            # Recorded out of order (hooks race), or before an interruption already taken: put
            # it in its place and go over the events again.
            self._log.sort(key=lambda entry: entry[0])
            self._reset()
        self._catch_up()

    def note_interrupts(self, times: Iterable[float]) -> None:
        """The transcript says the user interrupted turns at these times (epoch seconds)."""
        new = set(times) - self._interrupts
        if not new:
            return
        self._interrupts |= new
        if min(new) < self.last_ts:
            self._reset()  # it belongs before events already taken
        else:
            self._pending = sorted({*self._pending, *new})
        self._catch_up()

    def _catch_up(self) -> None:
        log, pending = self._log, self._pending
        while self._taken < len(log):
            ts, name = log[self._taken]
            while pending and pending[0] <= ts:
                self._interrupt(pending.pop(0))
            self._take(name, ts)
            self._taken += 1
        while pending:
            self._interrupt(pending.pop(0))

    def _interrupt(self, ts: float) -> None:
        if self.last in WORKING_EVENTS:
            self._take(INTERRUPTED, ts)

    def _take(self, name: str, ts: float) -> None:
        if (
            self.last == INTERRUPTED
            and name in WORKING_EVENTS
            and name != "UserPromptSubmit"
            and ts <= self.last_ts + HOOK_LAG
        ):
            return  # a hook of the interrupted turn, recorded late: that turn is over
        if name in _WAIT_STARTS:
            if self.since is None:
                self.since = ts
            if self.reason is None or name in NEEDS_ANSWER:
                self.reason = name  # a question asked while idle is what the wait is about now
        elif (name in _WAIT_ENDS or name == PROMPT_SENT) and self.since is not None:
            self.total += max(0.0, ts - self.since)
            self.since, self.reason = None, None
        if name == "SessionEnd":
            self.since, self.reason = None, None
        if name != PROMPT_SENT:
            self.last = name
            self.last_ts = ts

    def snapshot(self, now: float | None = None) -> Activity:
        """The agent's state as of ``now``."""
        if not self.known:
            return Activity(known=False)
        now = time.time() if now is None else now
        since = self.since
        current = max(0.0, now - since) if since is not None else 0.0
        return Activity(
            known=True,
            waiting=since is not None,
            waiting_since=since,
            waiting_total=self.total + current,
            waiting_current=current if since is not None else None,
            last_event=self.last,
            wait_reason=self.reason,
        )


def activity(events: Iterable[Mapping[str, Any]], now: float | None = None) -> Activity:
    """Working or waiting, and how long the agent has waited for you in all, from its events
    (``agent_event`` and ``prompt_sent`` records of one session, oldest first)."""
    tracker = ActivityTracker()
    for event in events:
        tracker.feed(event)
    return tracker.snapshot(now)
