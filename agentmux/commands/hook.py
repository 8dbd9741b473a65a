"""``python -m agentmux.commands.hook``: what an agent's hook (or Codex's ``notify``) runs.

It records the event for the session named by ``AGENTMUX_SESSION_ID`` in the state store named by
``AGENTMUX_STATE_DB`` (both set in every session's environment), if the call carries that
session's secret (``AGENTMUX_HOOK_SECRET``, whose hash the store keeps), and exits 0, always,
quickly: a hook must never hold up or break the agent. Only the standard library and the state
store are imported, so a call costs one Python start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from agentmux.core.agents.events import (
    AGENT_EVENT,
    HOOK_KEY,
    SECRET_ENV,
    TURN_ENDS,
    event_data,
    is_side_turn,
    secret_matches,
)
from agentmux.core.agents.held_prompts import HELD, RELEASED, pending
from agentmux.core.agents.overlap_warning import ENV_FLAG, decision_json, overlap_decision
from agentmux.core.state import StateStore


def _payload(argv: list[str]) -> dict[str, Any]:
    if argv[:1] == ["--codex"]:
        # Codex passes one JSON argument (not stdin).
        raw = argv[1] if len(argv) > 1 else "{}"
    else:
        raw = sys.stdin.read(1_000_000)
    data = json.loads(raw) if raw.strip() else {}
    return data if isinstance(data, dict) else {}


def _release_later(cwd: object) -> None:
    """A turn ended and prompts are held: let ``agentmux _tick`` type the next one, detached,
    so the agent's hook returns at once."""
    where = cwd if isinstance(cwd, str) and os.path.isdir(cwd) else os.getcwd()
    subprocess.Popen(
        [sys.executable, "-m", "agentmux", "_tick"],
        cwd=where,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Record one hook event; never fail."""
    args = sys.argv[1:] if argv is None else argv
    try:
        session_id = os.environ.get("AGENTMUX_SESSION_ID")
        db = os.environ.get("AGENTMUX_STATE_DB")
        payload = _payload(args)
        if not session_id or not db:
            return 0  # not started by agentmux: nothing to record
        if is_side_turn(payload):
            return 0  # not the user's turn ending: recording it would call a busy agent idle
        data = event_data(payload)
        store = StateStore(Path(db))
        try:
            key = store.last_event(session_id, HOOK_KEY)
            if not secret_matches(
                key["data"]["sha256"] if key else None, os.environ.get(SECRET_ENV)
            ):
                # Only the session's own agent has its secret: another cannot forge its state.
                print("agentmux hook: not recorded (wrong session secret)", file=sys.stderr)
                return 0
            store.record_event(session_id, AGENT_EVENT, data)
            if data["event"] == "PreToolUse" and os.environ.get(ENV_FLAG) == "1":
                decision = overlap_decision(store, session_id, payload)
                if decision is not None:
                    print(decision_json(decision))
            ended = data["event"] in TURN_ENDS
            held = ended and bool(pending(store.events(session_id, kinds=(HELD, RELEASED))))
        finally:
            store.close()
        if held:
            _release_later(payload.get("cwd"))
    except Exception as exc:  # a hook never breaks the agent; the reason goes to stderr
        print(f"agentmux hook: not recorded ({type(exc).__name__}: {exc})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
