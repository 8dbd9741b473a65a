"""Telling an agent, before an edit lands, that another session has changed the same file.

Off by default (``warn_agents_on_overlap = true`` in the config turns it on). Claude Code (and the
demo agent) run a ``PreToolUse`` hook before every file edit; when the file differs from its base
in another live session's worktree (committed, uncommitted or untracked), the hook answers "deny"
once per session and file, with a reason naming the other sessions. The agent reads the reason and
decides: trying the same edit again goes through. Each warning is recorded as an
``overlap_warned`` event.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentmux.core.host.worktrees import changed_in
from agentmux.core.records import Status
from agentmux.core.state import StateStore

ENV_FLAG = "AGENTMUX_WARN_OVERLAP"
WARNED = "overlap_warned"
EDIT_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit", "Append"})


def edited_path(payload: Mapping[str, Any]) -> str | None:
    """The file an edit tool is about to change, from a PreToolUse hook's input."""
    if payload.get("tool_name") not in EDIT_TOOLS:
        return None
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, Mapping):
        return None
    for key in ("file_path", "notebook_path"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def overlap_decision(
    store: StateStore, session_id: str, payload: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The hook's answer for a PreToolUse event: a "deny" with a reason the first time the
    file is one other sessions changed, else None (the edit goes ahead)."""
    path = edited_path(payload)
    if path is None:
        return None
    me = store.session(session_id)
    target = Path(path)
    if not target.is_absolute():
        target = Path(str(payload.get("cwd") or me.worktree)) / target
    try:
        relative = os.path.relpath(target.resolve(), Path(me.worktree).resolve())
    except ValueError:
        return None
    if relative.startswith(".."):
        return None  # outside its worktree: not session work
    warned = {e["data"].get("path") for e in store.events(session_id, kinds=(WARNED,))}
    if relative in warned:
        return None
    others = [
        r.name
        for r in store.sessions()
        if r.id != session_id and r.status is not Status.REMOVED and changed_in(r, relative)
    ]
    if not others:
        return None
    store.record_event(session_id, WARNED, {"path": relative, "others": others})
    reason = (
        f"agentmux: {relative} has also been changed by session(s) {', '.join(others)} working "
        "on this repository in parallel; editing it here may conflict when the work is merged. "
        "Consider leaving it to them or keeping your change small. If you still need this edit, "
        "make it again and it will go through."
    )
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def decision_json(decision: Mapping[str, Any]) -> str:
    """The hook's standard output."""
    return json.dumps(decision)
