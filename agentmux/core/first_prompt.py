"""A session's first prompt (``new``'s): typed before any sent later, or cancelled, never late.

``new`` waits for the agent to be ready before typing its prompt. If that wait is interrupted
(Ctrl-C), the prompt is cancelled: left pending, something would type it much later, after newer
prompts. A prompt sent while the first still waits is typed after it.
"""

from __future__ import annotations

from agentmux.core.errors import AgentmuxError
from agentmux.core.records import SessionRecord
from agentmux.core.state import StateStore

NOT_DELIVERED = "prompt_not_delivered"
CANCELLED = "prompt_cancelled"


def first_prompt_waits(store: StateStore, session_id: str) -> bool:
    """Whether the session's first prompt is still to be typed (and has not failed to be)."""
    record = store.session(session_id)
    return record.prompt_pending and store.last_event(session_id, NOT_DELIVERED) is None


def cancel_first_prompt(store: StateStore, record: SessionRecord) -> AgentmuxError:
    """Drop the session's pending prompt (recorded as cancelled); the sentence to tell."""
    if store.claim_prompt(record.id) is not None:
        store.record_event(record.id, CANCELLED, {"reason": "interrupted"})
    return AgentmuxError(
        f"the prompt was not typed: cancelled ({record.name} runs on; type one with "
        f"`agentmux send {record.name} ...`).",
        exit_code=130,
    )
