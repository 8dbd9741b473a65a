"""Agent profiles: the built-in ``claude``, ``codex`` and ``demo``, plus any from config."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentmux.core.agents.events import claude_settings, codex_notify_args
from agentmux.core.config.trust import TRUST_COMMAND
from agentmux.core.errors import AgentmuxError
from agentmux.core.paths import data_dir

if TYPE_CHECKING:  # the settings' pydantic models cost a verb that reads no config its start
    from agentmux.core.config.settings import AgentConfig, Config

AgentKind = Literal["claude", "codex", "demo", "generic"]
#: In a configured ``command`` or ``resume``: the session's conversation id.
SESSION_ID_FIELD = "{session_id}"

# Claude Code is ready when its input box is on screen, empty: older versions print "? for
# shortcuts" under it; 2.1.3xx shows a bare "❯" line between two rules. A prompt pasted earlier
# (into the folder-trust question, whose choices read "❯ 1. Yes, ..." in older versions and
# "❯ No, exit" / "Yes, I trust this folder" in 2.1.330) would be lost.
CLAUDE_READY = r"(?m)\? for shortcuts|^❯\s*$"
DEMO_READY = r"demo ❯"
# "Waiting for you" read off the screen: a fallback until agents report it through hooks. These are
# the questions each agent asks before it acts; they must be checked against the real CLIs.
# Claude Code 2.1.330's trust question (tests/fixtures/claude_trust_question_*.txt) fires no hook:
# its "Yes, I trust this folder" choice is cut off in a short pane, its footer "Enter to confirm ·
# Esc to cancel" is not; the binary also has "To trust this folder, first make the window taller".
CLAUDE_WAITING = (
    r"Do you want to |Would you like to |❯ 1\. Yes|Enter to continue"
    r"|Yes, I trust this folder|make the window taller|Enter to confirm · Esc to"
)
# Codex 0.169 asks "Trust this folder?" in a worktree it has not seen; its idle composer shows
# "? for shortcuts" under the input line (and not in that question), so a prompt waits for it.
CODEX_READY = r"\? for shortcuts"
CODEX_WAITING = r"Allow command\?|Approve\?|\[y/N\]|Trust this folder\?"
DEMO_WAITING = r"Allow\? \[y/n\] *$"

_INSTALL_HINTS = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
}


@dataclass(frozen=True)
class AgentProfile:
    """How to start one kind of agent and how to tell it is ready for a prompt."""

    name: str
    command: tuple[str, ...]
    kind: AgentKind
    env: Mapping[str, str] = field(default_factory=dict)
    ready_pattern: str | None = None
    waiting_pattern: str | None = None
    ready_timeout: float = 60.0
    submit_delay: float = 0.1
    #: A configured command line that continues a conversation (``{session_id}``: its id).
    resume: tuple[str, ...] | None = None

    @property
    def program(self) -> str:
        """The executable the profile runs."""
        return self.command[0]

    def find_program(self, program: str | None = None) -> str | None:
        """Absolute path of the program (or of ``program``), or None when it is not installed."""
        program = program or self.program
        if os.sep in program:
            return program if os.access(program, os.X_OK) else None
        return shutil.which(program)

    def require_program(self) -> None:
        """Raise a one-sentence error when the agent's program is not installed."""
        if self.find_program() is None:
            hint = _INSTALL_HINTS.get(self.name)
            extra = f" (install it with `{hint}`)" if hint else ""
            raise AgentmuxError(
                f"agent {self.name!r} needs the program {self.program!r}, "
                f"which is not installed or not on PATH{extra}."
            )

    @property
    def interrupt_keys(self) -> tuple[str, ...]:
        """tmux keys that interrupt the agent's current turn without ending it."""
        # Claude Code and Codex stop a turn on Escape (Ctrl-C twice would quit them); the demo
        # agent and plain commands take Ctrl-C.
        return ("Escape",) if self.kind in ("claude", "codex") else ("C-c",)

    def argv(self, agent_session_id: str) -> list[str]:
        """The full command line for one session."""
        args = _with_id(self.command, agent_session_id)
        if self.kind in ("claude", "demo"):
            # A pre-assigned id makes the transcript findable and resumable (never --continue).
            args += ["--session-id", agent_session_id]
        if self.kind == "demo":
            args += ["--transcript-root", str(demo_transcript_root())]
        return args + self._hook_args()

    def resume_argv(self, conversation_id: str) -> list[str] | None:
        """The command line that continues conversation ``conversation_id`` (by that exact id,
        never "the latest one"), or None when the profile has no way to: it starts fresh then.

        A configured ``resume`` wins; else Claude Code ``--resume <id>``, Codex ``resume <id>``
        (the id of its rollout) and the demo agent ``--resume <id>``. The hooks come along as
        for a fresh start.
        """
        if self.resume is not None:
            args = _with_id(self.resume, conversation_id)
        elif self.kind == "claude":
            args = [*self.command, "--resume", conversation_id]
        elif self.kind == "codex":
            args = [*self.command, "resume", conversation_id]
        elif self.kind == "demo":
            args = [*self.command, "--resume", conversation_id]
            args += ["--transcript-root", str(demo_transcript_root())]
        else:
            return None
        return args + self._hook_args()

    def _hook_args(self) -> list[str]:
        # The agent reports its own state through hooks (agentmux.core.agents.events); they come
        # with this session's command line, never from editing the user's settings files.
        if self.kind in ("claude", "demo"):
            return ["--settings", claude_settings()]
        if self.kind == "codex":
            return codex_notify_args()
        return []


def _with_id(template: Sequence[str], session_id: str) -> list[str]:
    """A configured command line with ``{session_id}`` replaced (no other braces are read)."""
    return [arg.replace(SESSION_ID_FIELD, session_id) for arg in template]


def demo_transcript_root() -> Path:
    """Claude-style config root the demo agent writes transcripts under.

    Kept apart from ``~/.claude`` so demo spend never shows up in a user's real usage reports.
    """
    return data_dir() / "demo-claude"


def builtin_profiles() -> dict[str, AgentProfile]:
    """The profiles agentmux ships with."""
    return {
        "claude": AgentProfile(
            "claude",
            ("claude",),
            "claude",
            ready_pattern=CLAUDE_READY,
            waiting_pattern=CLAUDE_WAITING,
            submit_delay=0.3,
        ),
        "codex": AgentProfile(
            "codex",
            ("codex",),
            "codex",
            ready_pattern=CODEX_READY,
            waiting_pattern=CODEX_WAITING,
            ready_timeout=60.0,
            submit_delay=0.3,
        ),
        "demo": AgentProfile(
            "demo",
            (sys.executable, "-m", "agentmux.demo_agent"),
            "demo",
            ready_pattern=DEMO_READY,
            waiting_pattern=DEMO_WAITING,
            ready_timeout=20.0,
            submit_delay=0.0,
        ),
    }


def _from_config(name: str, conf: AgentConfig) -> AgentProfile:
    # A profile of a known kind keeps that kind's screen patterns and timing unless it sets its own.
    base = builtin_profiles().get(conf.kind)
    given = conf.model_fields_set
    return AgentProfile(
        name=name,
        command=tuple(conf.command),
        kind=conf.kind,
        env=dict(conf.env),
        ready_pattern=conf.ready_pattern if conf.ready_pattern or not base else base.ready_pattern,
        waiting_pattern=(
            conf.waiting_pattern if conf.waiting_pattern or not base else base.waiting_pattern
        ),
        ready_timeout=conf.ready_timeout,
        submit_delay=(
            conf.submit_delay if "submit_delay" in given or not base else base.submit_delay
        ),
        resume=tuple(conf.resume) if conf.resume is not None else None,
    )


def all_profiles(config: Config) -> dict[str, AgentProfile]:
    """Built-in profiles overlaid with those defined in config."""
    profiles = builtin_profiles()
    for name, conf in config.agents.items():
        profiles[name] = _from_config(name, conf)
    return profiles


def resolve_profile(config: Config, name: str | None) -> AgentProfile:
    """The profile called ``name``; with no name, the configured default or the first installed."""
    profiles = all_profiles(config)
    if name is None:
        name = config.default_agent
    if name is None:
        for candidate in ("claude", "codex"):
            if profiles[candidate].find_program():
                return profiles[candidate]
        return profiles["demo"]
    if name not in profiles:
        trust = config.repo_trust
        if trust is not None and trust.state == "untrusted" and name in trust.agents:
            raise AgentmuxError(
                f"agent {name!r} is defined only in {trust.path}, which you have not trusted; "
                f"review it and run `{TRUST_COMMAND}` to use it."
            )
        known = ", ".join(sorted(profiles))
        raise AgentmuxError(f"unknown agent {name!r}: known agents are {known}.")
    return profiles[name]


def ready_regex(profile: AgentProfile) -> re.Pattern[str] | None:
    """The compiled ready pattern, if the profile has one."""
    return re.compile(profile.ready_pattern) if profile.ready_pattern else None
