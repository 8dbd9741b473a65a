"""Claude Code's hooks, imitated: the demo agent runs the hook commands of a ``--settings``
document at the same moments, with the same kind of JSON on standard input."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from typing import Any

HOOK_TIMEOUT = 10.0


class Hooks:
    """The hook commands of one settings document, and the session facts every call carries."""

    def __init__(self, settings: str | None, session_id: str, transcript: str, cwd: str) -> None:
        parsed: Any = json.loads(settings) if settings else {}
        hooks = parsed.get("hooks", {}) if isinstance(parsed, dict) else {}
        self.hooks: dict[str, Any] = hooks if isinstance(hooks, dict) else {}
        self.base = {"session_id": session_id, "transcript_path": transcript, "cwd": cwd}

    def fire(self, event: str, **extra: Any) -> list[dict[str, Any]]:
        """Run every command hooked to ``event`` (matching ``tool_name`` where one is given);
        return the JSON objects the hooks printed."""
        answers: list[dict[str, Any]] = []
        payload = json.dumps({**self.base, "hook_event_name": event, **extra})
        tool = extra.get("tool_name")
        for group in self.hooks.get(event, []):
            matcher = group.get("matcher") or "*"
            if tool is not None and matcher != "*" and not fnmatch.fnmatch(tool, matcher):
                continue
            for hook in group.get("hooks", []):
                if hook.get("type") != "command":
                    continue
                try:
                    # The command comes from the session's own settings, and Claude Code runs
                    # hook commands through a shell too.
                    done = subprocess.run(  # noqa: S602
                        hook["command"],
                        shell=True,
                        input=payload.encode(),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        timeout=HOOK_TIMEOUT,
                        check=False,
                    )
                except (OSError, subprocess.TimeoutExpired):
                    continue  # a broken hook never stops the agent
                try:
                    answer = json.loads(done.stdout) if done.stdout.strip() else None
                except ValueError:
                    answer = None
                if isinstance(answer, dict):
                    answers.append(answer)
        return answers

    @staticmethod
    def denied(answers: list[dict[str, Any]]) -> str | None:
        """The reason a PreToolUse hook denied the tool call, if one did."""
        for answer in answers:
            output = answer.get("hookSpecificOutput")
            if isinstance(output, dict) and output.get("permissionDecision") == "deny":
                return str(output.get("permissionDecisionReason") or "denied by a hook")
        return None
