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


FIRST_PROMPT = "first_prompt"
#: The longest first line kept (enough for a commit subject).
FIRST_LINE_MAX = 200


def first_line(prompt: bytes) -> str:
    """A prompt's first non-blank line, trimmed and shortened to :data:`FIRST_LINE_MAX`."""
    text = prompt.decode(errors="replace")
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return " ".join(line.split())[:FIRST_LINE_MAX]


def note_first_prompt(store: StateStore, session_id: str, prompt: bytes) -> None:
    """Keep the first line of the first prompt typed into a session (once): ``commit`` names
    the session's work after it."""
    if store.last_event(session_id, FIRST_PROMPT) is None and first_line(prompt):
        store.record_event(session_id, FIRST_PROMPT, {"line": first_line(prompt)})


def first_prompt_line(store: StateStore, session_id: str) -> str | None:
    """The first line of the first prompt typed into the session, if one was."""
    noted = store.events(session_id, kinds=(FIRST_PROMPT,))
    return str(noted[0]["data"].get("line") or "") or None if noted else None
