"""Knowing when an agent can take a prompt: its ready pattern on screen, or a settled screen."""

from __future__ import annotations

import time

from agentmux.core.agents.attention import is_waiting
from agentmux.core.agents.profiles import AgentProfile, ready_regex
from agentmux.core.host import Host

POLL_SECONDS = 0.1
# Without a ready pattern, an agent is ready once its screen has shown something and then stayed
# unchanged this long.
SETTLE_SECONDS = 0.8
# A question the agent asks before it can take a prompt (Claude Code's folder-trust question) ends
# the wait once it has stayed on screen this long: nobody answers it while agentmux waits.
QUESTION_SECONDS = 1.0
ASKING = "it is asking a question first (answer it in the TUI or by attaching)"


def wait_ready(host: Host, agentmux_id: str, profile: AgentProfile) -> str | None:
    """Wait until the agent of the pane tagged ``agentmux_id`` can take a prompt; None when
    ready, else why not. The pane is found by its tag each time it is looked at, never by a
    pane id remembered from before (a restarted tmux server hands the same ids out again)."""
    pattern = ready_regex(profile)
    asked_since: float | None = None
    deadline = time.monotonic() + profile.ready_timeout
    last_screen = ""
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        pane = next((p for p in host.panes() if p.agentmux_id == agentmux_id), None)
        if pane is None or pane.dead:
            return "the agent exited before it was ready"
        screen = host.capture_tagged(pane.pane_id, agentmux_id)
        if screen is None:
            return "the agent's pane went away"
        if pattern is not None and pattern.search(screen):
            return None
        if is_waiting(profile, screen.splitlines()):
            # Never "settled, so ready": a prompt typed into a question would answer it.
            asked_since = asked_since or time.monotonic()
            if time.monotonic() - asked_since >= QUESTION_SECONDS:
                return ASKING
        elif pattern is None:
            asked_since = None
            if screen != last_screen:
                last_screen, stable_since = screen, time.monotonic()
            elif screen.strip() and time.monotonic() - stable_since >= SETTLE_SECONDS:
                return None
        else:
            asked_since = None
        time.sleep(POLL_SECONDS)
    return f"the agent was not ready after {profile.ready_timeout:g} s"
