"""Claude Code's screens, as the real pinned CLI draws them, read by the claude profile's patterns:
its folder-trust question is "waiting for you" and never "ready" (a prompt typed into it is
lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmux.core.agents.attention import is_waiting
from agentmux.core.agents.profiles import AgentProfile, builtin_profiles, ready_regex

FIXTURES = Path(__file__).parents[2] / "fixtures"
TRUST_SCREENS = sorted(FIXTURES.glob("claude_trust_question_*.txt"))

# Claude Code 2.1.330's idle input box in a trusted folder (capture-pane of a 100x20 pane; the
# prompt line is "❯" and a no-break space).
READY_SCREEN = (
    " ▐▛███▜▌   Claude Code v2.1.330",
    "▝▜█████▛▘  Opus 5.5 · API Usage Billing",
    "  ▘▘ ▝▝    /tmp/project",
    "",
    "─" * 100,
    "❯\u00a0",
    "─" * 100,
    "  ⏵⏵ auto mode on (shift+tab to cycle) · ← for agents              ● medium · /effort",
)


def claude() -> AgentProfile:
    return builtin_profiles()["claude"]


def screen(path: Path) -> tuple[str, ...]:
    """A fixture's screen rows, without its first line (the note of how it was captured)."""
    note, *rows = path.read_text().splitlines()
    assert note.startswith("# Claude Code 2.1.330")
    return tuple(rows)


def is_ready(profile: AgentProfile, rows: tuple[str, ...]) -> bool:
    pattern = ready_regex(profile)
    assert pattern is not None
    return pattern.search("\n".join(rows)) is not None


def test_the_trust_question_fixtures_are_there() -> None:
    names = {p.name for p in TRUST_SCREENS}
    assert {"claude_trust_question_2.1.330.txt", "claude_trust_question_2.1.330_short.txt"} <= names


@pytest.mark.parametrize("path", TRUST_SCREENS, ids=lambda p: p.name)
def test_the_trust_question_is_waiting_for_you_and_not_ready(path: Path) -> None:
    rows = screen(path)
    assert is_waiting(claude(), rows)
    assert not is_ready(claude(), rows)


def test_the_trust_question_waits_with_either_choice_selected() -> None:
    rows = screen(FIXTURES / "claude_trust_question_2.1.330.txt")
    moved = tuple(
        {
            " ❯ No, exit": "   No, exit",
            "   Yes, I trust this folder": " ❯ Yes, I trust this folder",
        }.get(row, row)
        for row in rows
    )
    assert moved != rows
    assert is_waiting(claude(), moved)
    assert not is_ready(claude(), moved)


def test_the_idle_input_box_is_ready_and_not_waiting() -> None:
    assert is_ready(claude(), READY_SCREEN)
    assert not is_waiting(claude(), READY_SCREEN)


@pytest.mark.parametrize(
    "question",
    [
        " Do you want to make this edit to shared.txt?",
        " Would you like to proceed?",
        " ❯ 1. Yes, proceed",
        " Press Enter to continue…",
    ],
)
def test_the_older_questions_still_wait(question: str) -> None:
    assert is_waiting(claude(), ("⏺ Writing it.", "", question))
