"""A session's spend across every conversation its agent had: resumes, ``/clear``, fresh restarts.

What the pinned CLIs do (checked against the real programs: docs/agents-on-resume.md):

- Claude Code 2.1.330 ``--resume <id>`` appends to the same ``<id>.jsonl`` and copies nothing;
  its ``SessionStart`` hook says ``source: "resume"`` with the same ``session_id``. ``/clear``
  starts a new session id (``SessionStart`` ``source: "clear"``), a new file in the same project
  directory. ``--fork-session`` writes a new file that starts with a copy of every line of the
  old one (same ``message.id``, ``requestId`` and ``uuid``).
- Codex 0.169.0 ``codex resume <id>`` (and ``codex exec resume <id>``) appends to the same
  rollout, and its running token total carries on from where the rollout left it.

So a session's conversations are the id agentmux gave it plus every id its agent reported since
(the ``conversation_id`` of its ``SessionStart`` / ``agent-turn-complete`` events, and of the
``resumed`` events ``agentmux resume`` records). The Claude reader reads all their files as one:
a record copied from one file to another (a fork) has the same keys in both and counts once,
as ccusage counts it (by message id and request id). The Codex reader reads each rollout once,
however many ids or searches lead to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from agentmux.core.agents.events import AGENT_EVENT, CONVERSATION
from agentmux.core.metrics.claude_transcript_files import find_main_files, find_session_files
from agentmux.core.metrics.claude_transcript_reader import ClaudeTranscriptReader
from agentmux.core.metrics.codex_rollouts import CodexRolloutReader, find_rollout
from agentmux.core.metrics.runs import RESUMED
from agentmux.core.metrics.usage import UsageByModel, UsageSnapshot


def reported_conversation(event: Mapping[str, Any]) -> str | None:
    """The conversation id an agent or resume event names, if any."""
    if event.get("kind") not in (AGENT_EVENT, RESUMED):
        return None
    data = event.get("data")
    value = data.get(CONVERSATION) if isinstance(data, Mapping) else None
    return value if isinstance(value, str) and value else None


def last_conversation(events: Iterable[Mapping[str, Any]]) -> str | None:
    """The conversation a session's agent was last in, from its events (oldest first): the one
    to resume (after ``/clear`` it is not the id the session started with)."""
    found = None
    for event in events:
        found = reported_conversation(event) or found
    return found


class Conversations:
    """The conversation ids of each session, in the order they were first seen."""

    def __init__(self) -> None:
        self._ids: dict[str, list[str]] = {}

    def feed(self, event: Mapping[str, Any]) -> str | None:
        """Take in one event; return the conversation id it adds to its session, if new."""
        conversation = reported_conversation(event)
        if conversation is None:
            return None
        known = self._ids.setdefault(str(event["session_id"]), [])
        if conversation in known:
            return None
        known.append(conversation)
        return conversation

    def of(self, session_id: str) -> list[str]:
        """The conversations reported for one session (agentmux's own id not included)."""
        return list(self._ids.get(session_id, ()))


class ClaudeConversationReader(ClaudeTranscriptReader):
    """Incremental reader of every transcript of several Claude Code session ids, as one session.

    Responses, turns and failures are keyed across files, so a line copied from one session's
    file into another's (``--fork-session``) is counted once.
    """

    def __init__(self, session_ids: Iterable[str], config_dir: Path) -> None:
        super().__init__()
        self.config_dir = config_dir
        self.session_ids: list[str] = []
        self._mains: dict[str, list[Path]] = {}
        for session_id in session_ids:
            self.add_session(session_id)

    def add_session(self, session_id: str) -> None:
        """Read this session id's transcripts too (from their start) on the next update."""
        if session_id and session_id not in self.session_ids:
            self.session_ids.append(session_id)

    def discover(self) -> None:
        """Start reading any of the sessions' files that appeared since the last look."""
        for session_id in self.session_ids:
            mains = self._mains.get(session_id)
            if not mains:
                mains = self._mains[session_id] = find_main_files(session_id, self.config_dir)
            if not mains:
                continue
            for main in mains:
                self.add_file(main, subagent=False)
            for path in find_session_files(session_id, self.config_dir):
                if path not in mains:
                    self.add_file(path, subagent=True)

    def update(self) -> int:
        """Look for new files, then read what was appended; return the bytes consumed."""
        self.discover()
        return super().update()


class CodexConversationReader:
    """Incremental reader of one Codex session's rollouts: the first one started in its worktree
    since it was created (found before Codex reports any id), and the rollout of every thread id
    reported since. Each file is read once, however many ways lead to it."""

    def __init__(
        self,
        *,
        cwd: str | Path,
        started_after: datetime | None,
        home: Path,
        thread_ids: Iterable[str] = (),
    ) -> None:
        self.cwd = cwd
        self.started_after = started_after
        self.home = home
        self.thread_ids: list[str] = []
        self._readers: dict[Path, CodexRolloutReader] = {}
        self._found_ids: set[str] = set()
        self._first_found = False
        for thread_id in thread_ids:
            self.add_thread(thread_id)

    def add_thread(self, thread_id: str) -> None:
        """Read this thread's rollout too, once it is found."""
        if thread_id and thread_id not in self.thread_ids:
            self.thread_ids.append(thread_id)

    @property
    def files(self) -> list[Path]:
        """The rollouts being read."""
        return list(self._readers)

    def _add(self, path: Path | None) -> bool:
        if path is None:
            return False
        if path not in self._readers:
            self._readers[path] = CodexRolloutReader(path)
        return True

    def discover(self) -> None:
        """Look for the rollouts not found yet."""
        if not self._first_found:
            self._first_found = self._add(
                find_rollout(cwd=self.cwd, started_after=self.started_after, home=self.home)
            )
        for thread_id in self.thread_ids:
            if thread_id in self._found_ids:
                continue
            if any(
                r.meta is not None and r.meta.session_id == thread_id
                for r in self._readers.values()
            ):
                self._found_ids.add(thread_id)
                continue
            path = find_rollout(
                session_id=thread_id, started_after=self.started_after, home=self.home
            )
            if self._add(path):
                self._found_ids.add(thread_id)

    def update(self) -> int:
        """Find rollouts not yet found, then read what was appended; return bytes read."""
        self.discover()
        return sum(reader.update() for reader in self._readers.values())

    def snapshot(self) -> UsageSnapshot:
        """The session's figures so far, over all its rollouts (empty before any appears)."""
        return merge_snapshots([reader.snapshot() for reader in self._readers.values()])


def merge_snapshots(parts: Sequence[UsageSnapshot]) -> UsageSnapshot:
    """One snapshot of several transcripts that share nothing (each counted in full)."""
    if len(parts) == 1:
        return parts[0]
    by_model = UsageByModel()
    for part in parts:
        by_model = by_model + part.by_model
    firsts = [p.first for p in parts if p.first is not None]
    lasts = [p.last for p in parts if p.last is not None]
    return UsageSnapshot(
        by_model=by_model,
        turns=tuple(sorted(t for p in parts for t in p.turns)),
        failed_turns=sum(p.failed_turns for p in parts),
        failures=tuple(sorted((f for p in parts for f in p.failures), key=lambda f: f.time)),
        malformed_lines=sum(p.malformed_lines for p in parts),
        first=min(firsts) if firsts else None,
        last=max(lasts) if lasts else None,
        samples=tuple(sorted((s for p in parts for s in p.samples), key=lambda s: s.time)),
    )
