"""Produce real transcript fixtures by running the pinned Claude Code and Codex CLIs offline.

Each scenario runs a CLI in a throwaway sandbox (its own HOME, CLAUDE_CONFIG_DIR or CODEX_HOME and
a small git project) against a scripted fake API from :mod:`tests.fakeapi` on 127.0.0.1, then copies
the transcripts it wrote, verbatim but for the sandbox path (``/FIXTURE``) and the fake server's
port (``PORT``), to ``tests/fixtures/real/<cli>-<version>/<scenario>/`` beside an
``expected.json`` computed from the fake server's request log (never from the transcripts).

Regenerate everything::

    .venv/bin/python -m tests.realcli.make_fixtures

or some scenarios: ``--only claude-code/multi-turn codex/error``; ``--list`` names them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.fakeapi import anthropic as ant
from tests.fakeapi import openai_responses as oai
from tests.fakeapi.server import LoggedRequest
from tests.npm_tools import PINNED, npm_tool

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "real"
PLACEHOLDER = "/FIXTURE"
PORT_PLACEHOLDER = "PORT"
CLAUDE_VERSION = PINNED["claude"][1]
CODEX_VERSION = PINNED["codex"][1]
CLAUDE_DIR = f"claude-code-{CLAUDE_VERSION}"
CODEX_DIR = f"codex-{CODEX_VERSION}"
#: The model Codex is configured with: this version's default, which its bundled catalog knows
#: (an unknown name such as gpt-5 runs too, with a "model metadata not found" warning).
CODEX_MODEL = "gpt-6.1-sol"

#: Fixed identity and dates, so the sandbox project's commit (which Claude Code quotes in its
#: context) has the same hash on every run.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fixture Author",
    "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
    "GIT_COMMITTER_NAME": "Fixture Author",
    "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


class FixtureError(RuntimeError):
    """A CLI did not behave as a scenario expects."""


# ---------------------------------------------------------------------------------------------
# Sandboxes


@dataclass
class Sandbox:
    """A temporary root holding a HOME, the CLIs' config dirs and a git project."""

    root: Path

    @property
    def home(self) -> Path:
        """``HOME`` for the CLI."""
        return self.root / "home"

    @property
    def project(self) -> Path:
        """The working directory the CLI runs in (a git repository on ``main``)."""
        return self.root / "project"

    @property
    def claude_config(self) -> Path:
        """``CLAUDE_CONFIG_DIR``."""
        return self.root / "claude"

    @property
    def codex_home(self) -> Path:
        """``CODEX_HOME``."""
        return self.root / "codex"

    @property
    def tmp(self) -> Path:
        """``TMPDIR`` (Claude Code keeps background-task output under ``$TMPDIR/claude-<uid>``)."""
        return self.root / "tmp"

    @property
    def hook_log(self) -> Path:
        """Where the hooks installed by interactive scenarios append their JSON input."""
        return self.root / "hooks.jsonl"

    def scrub(self, text: str, url: str | None = None) -> str:
        """Replace the sandbox path (also as Claude Code encodes it) and the server's port."""
        text = text.replace(str(self.root), PLACEHOLDER)
        text = text.replace(encode_project_dir(self.root), encode_project_dir(Path(PLACEHOLDER)))
        if url is not None:
            port = url.rsplit(":", 1)[1]
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{PORT_PLACEHOLDER}")
        return text

    def hook_events(self) -> list[dict[str, Any]]:
        """The hook inputs logged so far, oldest first."""
        if not self.hook_log.exists():
            return []
        events = []
        for line in self.hook_log.read_text().splitlines():
            if line.strip():
                events.append(json.loads(line))
        return events


def encode_project_dir(path: Path) -> str:
    """Claude Code's directory name for a project: each non-alphanumeric character becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(path))


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox, removed afterwards unless ``AGENTMUX_KEEP_SANDBOX`` is set."""
    root = Path(tempfile.mkdtemp(prefix="amxfx-")).resolve()
    box = Sandbox(root)
    for path in (box.home, box.project, box.claude_config, box.codex_home, box.tmp):
        path.mkdir()
    git_env = {**os.environ, **GIT_ENV}
    (box.project / "README.md").write_text("# demo\n\nA project for transcript fixtures.\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "README.md"],
        ["commit", "-q", "-m", "init"],
    ):
        subprocess.run(["git", *args], cwd=box.project, env=git_env, check=True)
    try:
        yield box
    finally:
        if os.environ.get("AGENTMUX_KEEP_SANDBOX"):
            print(f"kept sandbox {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
            if root.exists():  # a CLI's exit hook may still have been writing
                time.sleep(1)
                shutil.rmtree(root, ignore_errors=True)


def base_env(box: Sandbox) -> dict[str, str]:
    """A minimal environment: nothing leaks in from the caller (no ``CLAUDECODE``, no API keys)."""
    node = shutil.which("node")
    path = ["/usr/local/bin", "/usr/bin", "/bin"]
    if node is not None:
        path.insert(0, str(Path(node).parent))
    return {
        "PATH": os.pathsep.join(dict.fromkeys(path)),
        "HOME": str(box.home),
        "USER": "fixture",
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "TZ": "UTC",
        "SHELL": "/bin/bash",
        "TMPDIR": str(box.tmp),
        **GIT_ENV,
    }


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, detail: Callable[[], str]
) -> None:
    """Poll ``check`` every 0.1 s; raise :class:`FixtureError` naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    if not check():
        raise FixtureError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail()}")


# ---------------------------------------------------------------------------------------------
# A private tmux server for interactive runs


class Tmux:
    """A private tmux server running one program in one pane.

    Its socket lives in the sandbox (``tmux -S``), so nothing is left in the shared tmux socket
    directory and no other tmux server is ever addressed.
    """

    def __init__(self, box: Sandbox) -> None:
        self.socket = box.root / "tmux.sock"
        self.target = "=agent:0.0"
        self._pid: int | None = None

    def __call__(self, *args: str) -> str:
        """Run a tmux command against this server; return its stdout."""
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise FixtureError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        width: int = 150,
        height: int = 50,
    ) -> None:
        """Start ``argv`` in a new detached session with exactly ``env`` (via ``env -i``)."""
        command = ["env", "-i", *(f"{key}={value}" for key, value in env.items()), *argv]
        size = ("-x", str(width), "-y", str(height))
        # remain-on-exit keeps the pane (and its last screen) if the program dies early.
        self("-f", os.devnull, "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
             "new-session", "-d", "-s", "agent", *size, "-c", str(cwd), *command)  # fmt: skip
        self._pid = int(self("display-message", "-p", "-t", self.target, "#{pane_pid}"))

    def send_line(self, text: str) -> None:
        """Type ``text`` literally, then press Enter once the program has taken it in."""
        self("send-keys", "-t", self.target, "-l", text)
        time.sleep(0.5)
        self("send-keys", "-t", self.target, "Enter")

    def press(self, *keys: str) -> None:
        """Press keys by tmux name (``Escape``, ``C-c``)."""
        self("send-keys", "-t", self.target, *keys)

    def screen(self) -> str:
        """The visible pane text."""
        try:
            return self("capture-pane", "-p", "-t", self.target)
        except FixtureError as error:
            return str(error)

    def pane_dead(self) -> bool:
        """The program in the pane has exited."""
        try:
            return self("display-message", "-p", "-t", self.target, "#{pane_dead}").strip() == "1"
        except FixtureError:
            return True

    def kill(self) -> None:
        """Kill this server and wait (up to 10 s) for the pane's program to be gone."""
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, check=False
        )
        if self._pid is not None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(self._pid):
                time.sleep(0.05)
            self._pid = None
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------
# Outcomes, fixtures and expected totals


@dataclass
class Outcome:
    """What one scenario produced: the fake server's log and the transcript files to keep."""

    cli: str
    scenario: str
    mode: str
    description: str
    user_turns: int
    usage_fields: tuple[str, ...]
    requests: list[LoggedRequest]
    files: dict[str, Path]
    url: str
    session_ids: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)


def _totals(entries: Sequence[LoggedRequest], fields: Sequence[str]) -> dict[str, dict[str, int]]:
    by_model: dict[str, dict[str, int]] = {}
    for entry in entries:
        usage = entry.usage or {}
        bucket = by_model.setdefault(
            entry.model or "?", {"responses": 0, **dict.fromkeys(fields, 0)}
        )
        bucket["responses"] += 1
        for name in fields:
            bucket[name] += usage.get(name, 0)
    return dict(sorted(by_model.items()))


def expected(outcome: Outcome) -> dict[str, Any]:
    """The totals a transcript reader should find, computed from the fake server's log alone."""
    log = outcome.requests
    succeeded = [entry for entry in log if entry.succeeded]
    conversation = [entry for entry in succeeded if not entry.side]
    side = [entry for entry in succeeded if entry.side]
    errors = [entry for entry in log if entry.status >= 400 or entry.error_type is not None]
    aborted = [entry for entry in log if entry.usage is not None and not entry.completed]
    agents: dict[str, list[LoggedRequest]] = {}
    for entry in conversation:
        agents.setdefault(entry.agent or "main", []).append(entry)
    by_status: dict[str, int] = {}
    for entry in errors:
        # A stream that fails after a 200 (Codex's response.failed) is counted apart.
        key = str(entry.status) if entry.status >= 400 else "in-stream"
        by_status[key] = by_status.get(key, 0) + 1
    return {
        "cli": outcome.cli,
        "version": CLAUDE_VERSION if outcome.cli == "claude-code" else CODEX_VERSION,
        "scenario": outcome.scenario,
        "mode": outcome.mode,
        "description": outcome.description,
        "session_ids": outcome.session_ids,
        "user_turns": outcome.user_turns,
        "usage_fields": list(outcome.usage_fields),
        "models": _totals(succeeded, outcome.usage_fields),
        "conversation_models": _totals(conversation, outcome.usage_fields),
        "side_models": _totals(side, outcome.usage_fields),
        "agents": {
            agent: _totals(entries, outcome.usage_fields) for agent, entries in agents.items()
        },
        "conversation_response_ids": [entry.response_id for entry in conversation],
        "side_requests": [
            {"kind": entry.kind, "model": entry.model, "response_id": entry.response_id}
            for entry in side
        ],
        "errors": {
            "count": len(errors),
            "by_status": by_status,
            "list": [
                {
                    "status": entry.status,
                    "error_type": entry.error_type,
                    "model": entry.model,
                    "agent": entry.agent,
                }
                for entry in errors
            ],
        },
        "aborted": [
            {"model": entry.model, "response_id": entry.response_id, "scripted_usage": entry.usage}
            for entry in aborted
        ],
        "observations": outcome.observations,
        "requests": [entry.summary() for entry in log],
    }


def write_fixture(outcome: Outcome, box: Sandbox, out: Path) -> Path:
    """Copy the outcome's files (scrubbed) and ``expected.json`` to ``out/<cli dir>/<scenario>``."""
    cli_dir = CLAUDE_DIR if outcome.cli == "claude-code" else CODEX_DIR
    dest = out / cli_dir / outcome.scenario
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for relative, source in sorted(outcome.files.items()):
        target = dest / box.scrub(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(box.scrub(source.read_text(), outcome.url))
    data = json.dumps(expected(outcome), indent=2, ensure_ascii=False) + "\n"
    (dest / "expected.json").write_text(box.scrub(data, outcome.url))
    return dest


# ---------------------------------------------------------------------------------------------
# Claude Code


def claude_setup(box: Sandbox) -> None:
    """Skip onboarding and trust the project (the config Claude Code reads at start)."""
    config = {
        "hasCompletedOnboarding": True,
        "projects": {str(box.project): {"hasTrustDialogAccepted": True}},
    }
    (box.claude_config / ".claude.json").write_text(json.dumps(config, indent=2))


def claude_env(box: Sandbox, url: str, subscriber: bool = False) -> dict[str, str]:
    """The environment for ``claude`` against the fake API.

    ``ANTHROPIC_AUTH_TOKEN`` rather than ``ANTHROPIC_API_KEY`` (which asks "use this key?" first),
    or with ``subscriber`` a ``CLAUDE_CODE_OAUTH_TOKEN``, which makes Claude Code behave as for a
    subscription login (usage-limit messages). ``CLAUDE_CODE_MAX_RETRIES=0`` so an error step is
    answered once, not after ten backed-off retries.
    """
    token = "CLAUDE_CODE_OAUTH_TOKEN" if subscriber else "ANTHROPIC_AUTH_TOKEN"
    return {
        **base_env(box),
        "CLAUDE_CONFIG_DIR": str(box.claude_config),
        "ANTHROPIC_BASE_URL": url,
        token: "sk-ant-oat01-fixture" if subscriber else "fixture-token",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "DISABLE_AUTOUPDATER": "1",
    }


def claude_print(
    box: Sandbox, fake: ant.AnthropicFake, prompt: str, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``claude -p PROMPT ARGS`` in the project and wait for it to exit."""
    argv = [str(npm_tool("claude")), "-p", prompt, *args]
    return subprocess.run(
        argv,
        cwd=box.project,
        env=claude_env(box, fake.url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def claude_files(box: Sandbox) -> dict[str, Path]:
    """Every file under the config's ``projects/`` dir, keyed by its path relative to the config."""
    projects = box.claude_config / "projects"
    return {
        str(path.relative_to(box.claude_config)): path
        for path in sorted(projects.rglob("*"))
        if path.is_file()
    }


def transcript(box: Sandbox, session_id: str) -> Path:
    """The main transcript of a session (found by session id, whatever the project dir name)."""
    found = list((box.claude_config / "projects").glob(f"*/{session_id}.jsonl"))
    if len(found) != 1:
        raise FixtureError(f"expected one transcript for {session_id}, found {found}")
    return found[0]


def records(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a JSONL file (empty if it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check(done: subprocess.CompletedProcess[str], expect_ok: bool = True) -> str:
    summary = f"exit {done.returncode}; stdout {done.stdout.strip()[:300]!r}"
    if expect_ok and done.returncode != 0:
        raise FixtureError(f"claude failed: {summary}\nstderr: {done.stderr[-2000:]}")
    return summary


U = ant.Usage


def claude_multi_turn(box: Sandbox) -> Outcome:
    """Three print-mode prompts in one session; the first writes a file (text + tool_use lines)."""
    claude_setup(box)
    session = str(uuid.uuid4())
    target = box.project / "notes" / "hello.txt"
    script: list[ant.Step] = [
        ant.ToolUse(
            "Write",
            {"file_path": str(target), "content": "hello\n"},
            U(input_tokens=2100, output_tokens=85, cache_creation_5m=1500, cache_read=0),
            text="I'll create the file.",
        ),
        ant.Text("Created notes/hello.txt.", U(2300, 17, cache_creation_5m=120, cache_read=1500)),
        ant.Text("Goodbye!", U(2400, 9, cache_creation_1h=300, cache_read=1620)),
        ant.Text("You wrote notes/hello.txt.", U(2500, 12, cache_read=1920)),
    ]
    observations = []
    with ant.AnthropicFake(script) as fake:
        common = ("--permission-mode", "acceptEdits")
        first = claude_print(
            box, fake, "Create notes/hello.txt saying hello", "--session-id", session, *common
        )
        observations.append("turn 1: " + _check(first))
        for prompt in ("Now say goodbye", "What did you write?"):
            done = claude_print(box, fake, prompt, "--resume", session, *common)
            observations.append(f"{prompt!r}: " + _check(done))
        if not fake.done:
            raise FixtureError(f"script not consumed: {fake.main.used}/{len(script)} steps")
        if target.read_text() != "hello\n":
            raise FixtureError("the Write tool did not write the file")
    return Outcome(
        "claude-code",
        "multi-turn",
        "print",
        "claude -p three times in one session (--session-id, then --resume twice) with "
        "--permission-mode acceptEdits. Turn 1's first response has a text block and a Write "
        "tool_use block: two assistant lines share one message.id. Cache creation is split "
        "between 5m and 1h.",
        3,
        ant.USAGE_FIELDS,
        fake.requests,
        claude_files(box),
        fake.url,
        [session],
        observations,
    )


def claude_subagent(box: Sandbox) -> Outcome:
    """The main agent starts a subagent (Agent tool, haiku) that reads a file; print mode."""
    claude_setup(box)
    session = str(uuid.uuid4())
    main: list[ant.Step] = [
        ant.ToolUse(
            "Agent",
            {
                "description": "Summarise the README",
                "prompt": "Read README.md and summarise it in one line.",
                "subagent_type": "general-purpose",
                "model": "haiku",
            },
            U(3000, 120, cache_creation_5m=2500, cache_read=0),
            text="I'll ask an agent to read it.",
        ),
        ant.Text("The agent is reading the README.", U(3200, 14, cache_read=2500)),
        ant.Text("The README describes a demo project.", U(3500, 16, cache_read=3100)),
    ]
    subagent: list[ant.Step] = [
        ant.ToolUse(
            "Read",
            {"file_path": str(box.project / "README.md")},
            U(1800, 40, cache_creation_5m=1700, cache_creation_1h=0),
        ),
        # Slow, so the main agent's second response lands before the subagent finishes.
        ant.Text(
            "README.md: a demo project for transcript fixtures.",
            U(2000, 22, cache_read=1700),
            chunks=3,
            chunk_delay=0.7,
        ),
    ]
    observations = []
    with ant.AnthropicFake(main, subagents=[subagent]) as fake:
        done = claude_print(
            box,
            fake,
            "Use an agent to summarise README.md",
            "--session-id",
            session,
            "--permission-mode",
            "acceptEdits",
        )
        observations.append(_check(done))
        if not fake.done:
            raise FixtureError(
                f"script not consumed: main {fake.main.used}, sub {fake.subagents[0].used}"
            )
    files = claude_files(box)
    if not any("/subagents/" in name for name in files):
        raise FixtureError(f"no subagent transcript among {sorted(files)}")
    return Outcome(
        "claude-code",
        "subagent",
        "print",
        "claude -p: the main model (opus) calls the Agent tool with model=haiku; the subagent "
        "(x-claude-code-agent-id header) makes two API calls (Read, then text) and its records "
        "land in <session-id>/subagents/agent-<id>.jsonl (isSidechain: true) with a .meta.json. "
        "In print mode the agent runs in the background: the main agent answers once, then "
        "again when the task notification arrives.",
        1,
        ant.USAGE_FIELDS,
        fake.requests,
        files,
        fake.url,
        [session],
        observations,
    )


def claude_subagent_fork(box: Sandbox) -> Outcome:
    """A turn, then a resumed turn that forks (Agent, subagent_type fork); print mode."""
    claude_setup(box)
    session = str(uuid.uuid4())
    main: list[ant.Step] = [
        ant.Text("The README is short.", U(2000, 9, cache_creation_5m=1500)),
        ant.ToolUse(
            "Agent",
            {
                "description": "Check the README",
                "prompt": "Check the README",
                "subagent_type": "fork",
            },
            U(2300, 60, cache_creation_5m=200, cache_read=1500),
            text="I'll fork to check.",
        ),
        ant.Text("The fork is checking.", U(2400, 7, cache_read=1700)),
        ant.Text("The fork found nothing wrong.", U(2600, 9, cache_read=1800)),
    ]
    fork: list[ant.Step] = [
        # Slow, so the main agent's second response lands before the fork finishes.
        ant.Text("README is fine.", U(2450, 8, cache_read=1700), chunks=3, chunk_delay=0.7),
    ]
    observations = []
    with ant.AnthropicFake(main, subagents=[fork]) as fake:
        first = claude_print(box, fake, "What does the README say?", "--session-id", session)
        observations.append("turn 1: " + _check(first))
        second = claude_print(box, fake, "Fork yourself to check it", "--resume", session)
        observations.append("turn 2: " + _check(second))
        if not fake.done:
            raise FixtureError("script not consumed")
    return Outcome(
        "claude-code",
        "subagent-fork",
        "print",
        "claude -p, then --resume with a prompt the main model answers with the Agent tool, "
        "subagent_type fork (the fork inherits the whole conversation and the parent's model). "
        "The fork's transcript (subagents/agent-<id>.jsonl, meta isFork) begins by replaying "
        "the parent's Agent tool_use message with the same message.id and usage "
        "(isSidechain: true): that replay is not new spend, count the id once. The fork then "
        "makes one API call of its own.",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        claude_files(box),
        fake.url,
        [session],
        observations,
    )


def claude_rate_limit(box: Sandbox) -> Outcome:
    """A good turn, then a plain 429 rate limit (API-key billing); print mode."""
    claude_setup(box)
    session = str(uuid.uuid4())
    script: list[ant.Step] = [
        ant.Text("Hello.", U(1900, 6, cache_creation_5m=1400)),
        ant.rate_limited(),
    ]
    observations = []
    with ant.AnthropicFake(script) as fake:
        first = claude_print(box, fake, "Say hello", "--session-id", session)
        observations.append("turn 1: " + _check(first))
        second = claude_print(box, fake, "Once more", "--resume", session)
        observations.append("turn 2 (429): " + _check(second, expect_ok=False))
        if not fake.done:
            raise FixtureError("script not consumed")
    _expect_api_errors(box, session, 1)
    return Outcome(
        "claude-code",
        "rate-limit",
        "print",
        "claude -p twice in one session (ANTHROPIC_AUTH_TOKEN, i.e. API billing): a good turn, "
        "then a 429 rate_limit_error. The failure is a synthetic isApiErrorMessage record "
        "(apiErrorStatus 429, error rate_limit, text 'API Error: Request rejected (429) · ...').",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        claude_files(box),
        fake.url,
        [session],
        observations,
    )


def _expect_api_errors(box: Sandbox, session: str, count: int) -> None:
    synthetic = [r for r in records(transcript(box, session)) if r.get("isApiErrorMessage")]
    if len(synthetic) != count:
        raise FixtureError(f"expected {count} isApiErrorMessage records, found {len(synthetic)}")


# ---------------------------------------------------------------------------------------------
# Claude Code, interactive (in a private tmux server)

#: Hook events the interactive scenarios log (their JSON input, one line each, in hooks.jsonl).
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "Stop",
    "StopFailure",
    "SubagentStop",
    "SessionEnd",
)


class ClaudeTui:
    """Claude Code running interactively in a private tmux server, with hooks that log every event.

    A turn is over when a ``Stop`` or ``StopFailure`` hook fires (an interrupted turn fires
    neither).
    """

    def __init__(
        self,
        box: Sandbox,
        fake: ant.AnthropicFake,
        tmux: Tmux,
        session: str,
        *args: str,
        subscriber: bool = False,
    ) -> None:
        self.box = box
        self.fake = fake
        self.tmux = tmux
        self.session = session
        self.args = args
        self.subscriber = subscriber

    def _detail(self) -> str:
        requests = "\n".join(str(entry.summary()) for entry in self.fake.requests)
        return f"screen:\n{self.tmux.screen()}\nrequests:\n{requests}"

    def ends(self) -> int:
        """How many turns have ended (``Stop`` + ``StopFailure`` hooks)."""
        return sum(
            event.get("hook_event_name") in ("Stop", "StopFailure")
            for event in self.box.hook_events()
        )

    def start(self) -> None:
        """Start ``claude --session-id S --settings hooks ARGS`` and wait for its prompt."""
        command = f"{{ cat; echo; }} >> '{self.box.hook_log}'"
        hooks = {
            event: [{"hooks": [{"type": "command", "command": command}]}] for event in HOOK_EVENTS
        }
        settings = self.box.root / "hook-settings.json"
        settings.write_text(json.dumps({"hooks": hooks}, indent=2))
        argv = [str(npm_tool("claude")), "--session-id", self.session, "--settings", str(settings)]
        env = claude_env(self.box, self.fake.url, self.subscriber)
        self.tmux.start([*argv, *self.args], self.box.project, env)
        wait_until(
            lambda: (
                any(e.get("hook_event_name") == "SessionStart" for e in self.box.hook_events())
                and "\u276f" in self.tmux.screen()
            ),
            60,
            "Claude Code's prompt",
            self._detail,
        )

    def turn(self, prompt: str, timeout: float = 60) -> None:
        """Type a prompt and wait for the turn to end."""
        before = self.ends()
        self.tmux.send_line(prompt)
        wait_until(
            lambda: self.ends() > before, timeout, f"the end of turn {prompt!r}", self._detail
        )

    def exit(self) -> None:
        """Leave with Ctrl-C twice, as a user does, and wait for the program to exit."""
        for _attempt in range(5):
            self.tmux.press("C-c")
            time.sleep(0.4)
            self.tmux.press("C-c")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if self.tmux.pane_dead():
                    return
                time.sleep(0.1)
        raise FixtureError(f"Claude Code did not exit\n{self._detail()}")


def _interactive_files(box: Sandbox) -> dict[str, Path]:
    """The transcripts plus the hook log, one JSON object per line."""
    hooks = box.root / "hooks-normalised.jsonl"
    hooks.write_text("".join(json.dumps(event) + "\n" for event in box.hook_events()))
    return {**claude_files(box), "hooks.jsonl": hooks}


def claude_interactive(box: Sandbox) -> Outcome:
    """Two typed prompts in the TUI: a Write tool call (text + tool_use lines), then plain text."""
    claude_setup(box)
    session = str(uuid.uuid4())
    target = box.project / "notes" / "todo.txt"
    script: list[ant.Step] = [
        ant.ToolUse(
            "Write",
            {"file_path": str(target), "content": "- buy milk\n"},
            U(2600, 70, cache_creation_5m=1800, cache_creation_1h=200),
            text="I'll write the list.",
        ),
        ant.Text("Wrote notes/todo.txt.", U(2700, 11, cache_read=2000, cache_creation_5m=90)),
        ant.Text("It has one item.", U(2800, 8, cache_read=2090, cache_creation_1h=40)),
    ]
    with ant.AnthropicFake(script) as fake, Tmux(box) as tmux:
        tui = ClaudeTui(box, fake, tmux, session, "--permission-mode", "acceptEdits")
        tui.start()
        tui.turn("Create notes/todo.txt with a shopping list")
        tui.turn("How many items are on it?")
        tui.exit()
        if not fake.done:
            raise FixtureError(f"script not consumed: {fake.main.used}/{len(script)}")
    return Outcome(
        "claude-code",
        "interactive",
        "interactive",
        "claude in a tmux pane (--session-id, --permission-mode acceptEdits, hooks via "
        "--settings), two typed prompts, then Ctrl-C twice. Turn 1's first response has a text "
        "block and a Write tool_use block (two assistant lines, one message.id). The first prompt "
        "also triggers the session-title side request (same model, no tools, JSON output); its "
        "usage is in side_models and appears in no transcript. hooks.jsonl holds each hook's "
        "stdin JSON.",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        _interactive_files(box),
        fake.url,
        [session],
    )


def claude_interrupted(box: Sandbox) -> Outcome:
    """A slow streamed reply interrupted with Escape, then a normal turn."""
    claude_setup(box)
    session = str(uuid.uuid4())
    story = " ".join(f"word{i}" for i in range(240))
    script: list[ant.Step] = [
        ant.Text(story, U(2400, 900, cache_creation_5m=1600), chunks=80, chunk_delay=0.4),
        ant.Text("Hi!", U(2500, 4, cache_read=1600)),
    ]
    observations = []
    with ant.AnthropicFake(script) as fake, Tmux(box) as tmux:
        tui = ClaudeTui(box, fake, tmux, session, "--permission-mode", "acceptEdits")
        tui.start()
        tmux.send_line("Tell me a long story")
        wait_until(lambda: "word5 " in tmux.screen(), 30, "the slow reply on screen", tui._detail)
        tmux.press("Escape")
        path = transcript(box, session)
        wait_until(
            lambda: "interrupted by user" in path.read_text(),
            30,
            "the interruption record",
            tui._detail,
        )
        fake.wait_for(lambda log: fake.main.used == 1, 5)
        observations.append(f"Stop/StopFailure hooks after the interruption: {tui.ends()}")
        tui.turn("Never mind, just say hi")
        tui.exit()
        if not fake.done:
            raise FixtureError("script not consumed")
    return Outcome(
        "claude-code",
        "interrupted",
        "interactive",
        "claude in a tmux pane: the first reply streams slowly (80 deltas, 0.4 s apart) and "
        "Escape interrupts it after a few words; the fake server logs that response as aborted "
        "(its scripted usage was announced in message_start but message_delta never came). No "
        "Stop hook fires for the interrupted turn. A second prompt then completes normally.",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        _interactive_files(box),
        fake.url,
        [session],
        observations,
    )


def claude_api_error(box: Sandbox) -> Outcome:
    """In the TUI: a good turn, then a turn whose request is answered 529 overloaded."""
    claude_setup(box)
    session = str(uuid.uuid4())
    script: list[ant.Step] = [
        ant.Text("Hello.", U(1900, 6, cache_creation_5m=1400)),
        ant.overloaded(),
    ]
    with ant.AnthropicFake(script) as fake, Tmux(box) as tmux:
        tui = ClaudeTui(box, fake, tmux, session, "--permission-mode", "acceptEdits")
        tui.start()
        tui.turn("Say hello")
        tui.turn("Say it again")
        tui.exit()
        if not fake.done:
            raise FixtureError("script not consumed")
    _expect_api_errors(box, session, 1)
    return Outcome(
        "claude-code",
        "api-error",
        "interactive",
        "claude in a tmux pane: a good turn, then a request answered 529 overloaded_error. With "
        "CLAUDE_CODE_MAX_RETRIES=0 the CLI gives up at once (no 'Retrying in Ns · attempt k/10') "
        "and writes a synthetic assistant record (isApiErrorMessage, model <synthetic>, zero "
        "usage, apiErrorStatus 529, error server_error); the StopFailure hook fires instead of "
        "Stop (see hooks.jsonl).",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        _interactive_files(box),
        fake.url,
        [session],
    )


def claude_usage_limit(box: Sandbox) -> Outcome:
    """In the TUI as a subscriber: a good turn, then a 429 with usage-limit headers."""
    claude_setup(box)
    session = str(uuid.uuid4())
    reset = int(time.time()) + 3 * 3600
    script: list[ant.Step] = [
        ant.Text("Hello.", U(1900, 6, cache_creation_5m=1400)),
        ant.usage_limited(reset),
    ]
    with ant.AnthropicFake(script) as fake, Tmux(box) as tmux:
        tui = ClaudeTui(
            box, fake, tmux, session, "--permission-mode", "acceptEdits", subscriber=True
        )
        tui.start()
        tui.turn("Say hello")
        tui.turn("Say it again")
        tui.exit()
        if not fake.done:
            raise FixtureError("script not consumed")
    _expect_api_errors(box, session, 1)
    return Outcome(
        "claude-code",
        "usage-limit",
        "interactive",
        "claude in a tmux pane logged in with CLAUDE_CODE_OAUTH_TOKEN (a subscription): a good "
        "turn, then a 429 rate_limit_error carrying anthropic-ratelimit-unified-status: rejected "
        "and a five_hour claim. The synthetic record says \"You've hit your 5-hour limit · "
        'resets <time> (UTC)" and carries apiError usage_limit_reached, apiErrorParams and '
        "quotaLimits (status rejected, resetsAt, rateLimitType five_hour).",
        2,
        ant.USAGE_FIELDS,
        fake.requests,
        _interactive_files(box),
        fake.url,
        [session],
    )


# ---------------------------------------------------------------------------------------------
# Codex


def codex_setup(box: Sandbox, url: str) -> None:
    """A ``config.toml`` whose provider is the fake API (no retries, so errors surface at once)."""
    config = f"""\
model = "{CODEX_MODEL}"
model_provider = "fake"

[model_providers.fake]
name = "Fake Responses API"
base_url = "{url}/v1"
wire_api = "responses"
env_key = "FAKE_OPENAI_API_KEY"
request_max_retries = 0
stream_max_retries = 0
"""
    (box.codex_home / "config.toml").write_text(config)


def codex_exec(
    box: Sandbox, *args: str, timeout: float = 90, expect_ok: bool = True
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``codex exec ARGS`` in the project; return the process and a one-line summary."""
    env = {**base_env(box), "CODEX_HOME": str(box.codex_home), "FAKE_OPENAI_API_KEY": "fixture"}
    done = subprocess.run(
        [str(npm_tool("codex")), "exec", "--skip-git-repo-check", *args],
        cwd=box.project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    summary = f"exit {done.returncode}; stdout {done.stdout.strip()[:200]!r}"
    if expect_ok and done.returncode != 0:
        raise FixtureError(f"codex failed: {summary}\nstderr: {done.stderr[-2000:]}")
    return done, summary


def codex_files(box: Sandbox) -> dict[str, Path]:
    """The rollouts under ``sessions/``, keyed by their path relative to ``CODEX_HOME``."""
    return {
        str(path.relative_to(box.codex_home)): path
        for path in sorted((box.codex_home / "sessions").rglob("*.jsonl"))
    }


def codex_session(box: Sandbox) -> str:
    """The id of the only rollout's session."""
    rollouts = list(codex_files(box).values())
    if len(rollouts) != 1:
        raise FixtureError(f"expected one rollout, found {rollouts}")
    meta = records(rollouts[0])[0]
    return str(meta["payload"]["id"])


OU = oai.Usage


def codex_multi_turn(box: Sandbox) -> Outcome:
    """``codex exec`` then ``codex exec resume`` three times: a tool call, cached and reasoning
    tokens, and a last turn whose stream fails (token_count re-emitted with unchanged totals)."""
    reset = int(time.time()) + 2 * 3600
    script: list[oai.Step] = [
        oai.FunctionCall(
            "exec_command",
            {"cmd": "ls"},
            OU(input_tokens=5200, cached=0, output_tokens=140, reasoning=64),
            reasoning="List the files first.",
        ),
        oai.Message(
            "The project has README.md.",
            OU(input_tokens=5600, cached=5120, output_tokens=90, reasoning=32),
            reasoning="Summarise the listing.",
        ),
        oai.Message("It is a demo project.", OU(5900, 5504, 40, 0)),
        oai.Message("Nothing else to add.", OU(6100, 5888, 30, 12), reasoning="Short answer."),
        oai.StreamFailure("server_is_overloaded", "Selected model is at capacity."),
    ]
    observations = []
    headers = oai.rate_limit_headers(37.5, reset)
    with oai.ResponsesFake(script, headers=headers) as fake:
        codex_setup(box, fake.url)
        observations.append("turn 1: " + codex_exec(box, "What files are here?")[1])
        session = codex_session(box)
        for prompt in ("What is it?", "Anything else?"):
            observations.append(f"{prompt!r}: " + codex_exec(box, "resume", session, prompt)[1])
        failed = codex_exec(box, "resume", session, "One more thing", expect_ok=False)[1]
        observations.append("turn 4 (response.failed): " + failed)
        if not fake.done:
            raise FixtureError("script not consumed")
    return Outcome(
        "codex",
        "multi-turn",
        "exec",
        "codex exec, then codex exec resume <id> three times (all into one rollout). Turn 1 "
        "makes two API calls (an exec_command function call, then a message); every response "
        "has reasoning items and cached input. Each success writes a token_usage_record and a "
        "token_count whose total_token_usage is cumulative. Turn 4's stream ends in "
        "response.failed (server_is_overloaded): Codex re-emits a token_count with unchanged "
        "totals and ends the turn with task_complete carrying an error. The x-codex-* rate-limit "
        "headers fill token_count.rate_limits.",
        4,
        oai.USAGE_FIELDS,
        fake.requests,
        codex_files(box),
        fake.url,
        [session],
        observations,
    )


def codex_error(box: Sandbox) -> Outcome:
    """A good turn, then a usage limit (429), a plain 429 rate limit and a 500."""
    reset = int(time.time()) + 2 * 3600
    script: list[oai.Step] = [
        oai.Message("Hello.", OU(4800, 0, 20, 8)),
        oai.ApiError(
            429,
            "The usage limit has been reached",
            "usage_limit_reached",
            headers=oai.rate_limit_headers(100, reset),
            extra={"plan_type": "plus", "resets_at": reset},
        ),
        oai.rate_limited(),
        oai.server_error(),
    ]
    observations = []
    with oai.ResponsesFake(script, headers=oai.rate_limit_headers(64, reset)) as fake:
        codex_setup(box, fake.url)
        observations.append("turn 1: " + codex_exec(box, "Say hello")[1])
        session = codex_session(box)
        for label in ("usage limit", "429 rate limit", "500 server error"):
            done = codex_exec(box, "resume", session, f"Again ({label})", expect_ok=False)
            observations.append(f"{label}: " + done[1])
        if not fake.done:
            raise FixtureError("script not consumed")
    return Outcome(
        "codex",
        "error",
        "exec",
        "codex exec, then three codex exec resume turns that fail: HTTP 429 usage_limit_reached "
        "(with plan_type/resets_at and rate-limit headers at 100%), HTTP 429 rate_limit_exceeded "
        "and HTTP 500 server_error, with request_max_retries = 0. Each failed turn ends in "
        "task_complete with an error; the usage-limit turn re-emits a token_count with "
        "unchanged totals.",
        4,
        oai.USAGE_FIELDS,
        fake.requests,
        codex_files(box),
        fake.url,
        [session],
        observations,
    )


# ---------------------------------------------------------------------------------------------
# Registry and command line

Scenario = Callable[[Sandbox], Outcome]

SCENARIOS: dict[str, Scenario] = {
    "claude-code/multi-turn": claude_multi_turn,
    "claude-code/subagent": claude_subagent,
    "claude-code/subagent-fork": claude_subagent_fork,
    "claude-code/api-error": claude_api_error,
    "claude-code/rate-limit": claude_rate_limit,
    "claude-code/interactive": claude_interactive,
    "claude-code/interrupted": claude_interrupted,
    "claude-code/usage-limit": claude_usage_limit,
    "codex/multi-turn": codex_multi_turn,
    "codex/error": codex_error,
}


def run_scenario(name: str, out: Path = FIXTURES) -> tuple[Outcome, Path]:
    """Run one scenario in a fresh sandbox and write its fixture under ``out``."""
    with sandbox() as box:
        outcome = SCENARIOS[name](box)
        return outcome, write_fixture(outcome, box, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run all (or ``--only``) scenarios and write their fixtures."""
    parser = argparse.ArgumentParser(prog="python -m tests.realcli.make_fixtures")
    parser.add_argument("--only", nargs="+", metavar="CLI/SCENARIO", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--out", type=Path, default=FIXTURES, help="fixture root (default: %(default)s)"
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    failed = []
    for name in args.only or list(SCENARIOS):
        started = time.monotonic()
        try:
            outcome, dest = run_scenario(name, args.out)
        except (FixtureError, subprocess.TimeoutExpired) as error:
            failed.append(name)
            print(f"FAILED {name}: {error}", file=sys.stderr)
            continue
        took = time.monotonic() - started
        print(f"{name}: {len(outcome.requests)} requests, {took:.1f}s -> {dest}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
