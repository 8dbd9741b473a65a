"""The demo agent's transcript, written in Claude Code's JSONL format.

Records mirror what Claude Code 2.1 writes (see ``shared/reference``): ``user`` and ``assistant``
records chained by ``parentUuid``; one API response written as several ``assistant`` lines that
share ``message.id`` (the early ones with a placeholder ``output_tokens``); ``system`` records with
``subtype: "turn_duration"``; API errors as synthetic assistant records.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEMO_MODEL = "claude-sonnet-4-5-20250929"
DEMO_VERSION = "2.1.197-agentmux-demo"


def encode_cwd(cwd: str) -> str:
    """Claude Code's project directory name: every non-alphanumeric character becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def transcript_path(root: Path, cwd: str, session_id: str) -> Path:
    """``<root>/projects/<encoded cwd>/<session id>.jsonl``, as Claude Code lays it out."""
    return root / "projects" / encode_cwd(cwd) / f"{session_id}.jsonl"


def now_iso() -> str:
    """The current time as Claude Code writes it (UTC, milliseconds, ``Z``)."""
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usage_for(prompt: str, reply: str, turn: int) -> dict[str, Any]:
    """Deterministic token usage for one turn (documented in docs/demo-agent.md)."""
    return {
        "input_tokens": 100 + len(prompt.encode()) // 4,
        "cache_creation_input_tokens": 500 if turn == 1 else 0,
        "cache_read_input_tokens": 0 if turn == 1 else 1000 * (turn - 1),
        "output_tokens": 20 + len(reply.encode()) // 4,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "cache_creation": {
            "ephemeral_1h_input_tokens": 0,
            "ephemeral_5m_input_tokens": 500 if turn == 1 else 0,
        },
    }


def _git_branch(cwd: str) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "HEAD"
    return out.stdout.strip() or "HEAD"


class Transcript:
    """Appends records to one session's transcript file."""

    def __init__(self, root: Path, cwd: str, session_id: str) -> None:
        self.path = transcript_path(root, cwd, session_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cwd = cwd
        self.session_id = session_id
        self.parent: str | None = None
        self.branch = _git_branch(cwd)

    def resume(self) -> int:
        """Continue the transcript already at :attr:`path`: later records chain on to its last
        one (the earlier turns stay where they are). Returns how many prompts it holds."""
        prompts = 0
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if isinstance(record.get("uuid"), str):
                    self.parent = record["uuid"]
                message = record.get("message")
                if (
                    record.get("type") == "user"
                    and isinstance(message, dict)
                    and isinstance(message.get("content"), str)
                ):
                    prompts += 1
        return prompts

    def _write(self, record: dict[str, Any]) -> None:
        record_id = str(uuid.uuid4())
        base: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "entrypoint": "cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": DEMO_VERSION,
            "gitBranch": self.branch,
            "uuid": record_id,
            "timestamp": now_iso(),
        }
        base.update(record)
        self.parent = record_id
        line = json.dumps(base, ensure_ascii=False, separators=(",", ":")) + "\n"
        # One write per record, O_APPEND: a reader never sees two records interleaved.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def user(self, text: str) -> None:
        """A prompt the user submitted."""
        self._write(
            {
                "type": "user",
                "message": {"role": "user", "content": text},
                "promptSource": "typed",
                "origin": {"kind": "human"},
            }
        )

    def interrupted(self) -> None:
        """The user stopped the turn, as Claude Code records it (a ``user`` record)."""
        self._write(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"type": "text", "text": "[Request interrupted by user]"}],
                },
            }
        )

    def tool_result(self, tool_use_id: str, text: str) -> None:
        """The result of a tool call, as Claude Code records it (a ``user`` record)."""
        self._write(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
                    ],
                },
            }
        )

    def assistant(
        self,
        message_id: str,
        content: list[dict[str, Any]],
        usage: dict[str, Any],
        stop_reason: str | None,
    ) -> None:
        """One line of an assistant response (several may share ``message_id``)."""
        self._write(
            {
                "type": "assistant",
                "requestId": f"req_{message_id[4:]}",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": DEMO_MODEL,
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage,
                },
            }
        )

    def api_error(self, status: int, text: str) -> None:
        """A failed turn, recorded as Claude Code records an API error."""
        self._write(
            {
                "type": "assistant",
                "message": {
                    "id": str(uuid.uuid4()),
                    "container": None,
                    "model": "<synthetic>",
                    "role": "assistant",
                    "stop_reason": "stop_sequence",
                    "stop_sequence": "",
                    "type": "message",
                    "usage": {
                        "input_tokens": 0,
                        "output_tokens": 0,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                    "content": [{"type": "text", "text": text}],
                },
                "error": "server_error",
                "isApiErrorMessage": True,
                "apiErrorStatus": status,
            }
        )

    def turn_duration(self, duration_ms: int, message_count: int) -> None:
        """The ``system`` record Claude Code writes when a turn ends."""
        self._write(
            {
                "type": "system",
                "subtype": "turn_duration",
                "durationMs": duration_ms,
                "messageCount": message_count,
                "isMeta": False,
            }
        )
