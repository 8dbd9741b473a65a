"""The ``agentmux`` command: headless verbs over the core (the TUI comes from ``agentmux.ui``).

Every failure the user can cause ends in one sentence on stderr and a non-zero exit; an
unexpected bug ends in one sentence naming the log file that holds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from agentmux import __version__
from agentmux.commands import (
    commit,
    conflicts,
    cost,
    diff,
    hook,
    host_verbs,
    merge,
    remote_verbs,
    resume,
    serve,
    trust,
)
from agentmux.commands.common import (
    add_verb,
    err,
    kick_deliveries,
    open_manager,
    out,
    report,
    say_trust_notice,
)
from agentmux.commands.listing import cmd_ls, status_text
from agentmux.core.agents.profiles import resolve_profile
from agentmux.core.errors import AgentmuxError
from agentmux.core.metrics.budgets import parse_budget
from agentmux.core.paths import state_dir
from agentmux.core.sessions.manager import SessionManager

EXIT_INTERNAL = 70
DEMO_SESSIONS_MAX = 6  # len(agentmux.core.git.demo_repo.DEMO_PROMPTS), checked by a test


def _prompt_bytes(text: str | None) -> bytes | None:
    """A prompt argument as the exact bytes given ('-' reads stdin); non-UTF-8 survives."""
    if text is None:
        return None
    if text == "-":
        return sys.stdin.buffer.read()
    return os.fsencode(text)


# --- verbs -----------------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace) -> int:
    """Create one session, or ``--count`` of them (queued when every slot is busy)."""
    budget = parse_budget(args.budget) if args.budget else None
    manager = open_manager(quiet=args.json)
    if not args.host:
        resolve_profile(manager.config, args.agent)  # an agent it cannot run: one sentence, first
    say_trust_notice(manager.config)
    prompt = _prompt_bytes(args.prompt)
    if args.host:
        return remote_verbs.new_on_host(manager, args, prompt, budget)
    if args.count == 1:
        records = [
            manager.create(
                agent=args.agent, name=args.name, base=args.base, prompt=prompt, budget=budget
            )
        ]
    else:
        # Start them all first, then type the prompts: the agents get ready side by side.
        records = []
        for n in range(1, args.count + 1):
            try:
                records.append(
                    manager.create(
                        agent=args.agent,
                        name=f"{args.name}-{n}" if args.name else None,
                        base=args.base,
                        prompt=prompt,
                        deliver=False,
                        budget=budget,
                    )
                )
            except AgentmuxError as exc:
                for record in records:
                    manager.deliver_prompt(record.id)
                made = ", ".join(r.name for r in records) or "none"
                raise AgentmuxError(
                    f"{exc.message.rstrip('.')} (session {n} of {args.count}; created: {made})."
                ) from exc
        for record in manager.pending_deliveries():
            if record.id in {r.id for r in records}:
                manager.deliver_prompt(record.id)
    # Report what is true now: an agent may have ended already (one that fails at once).
    manager.reconcile(drain=False)
    records = [manager.store.session(r.id) for r in records]
    if args.json:
        rows = [r.to_json() for r in records]
        out.print_json(json.dumps(rows[0] if args.count == 1 else rows))
    else:
        for record in records:
            status = status_text(record, None, None)
            out.print(f"{record.name}: {status} on {record.branch} in {record.worktree}")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    """Type a prompt into one session."""
    manager = open_manager(trust_notice=True)
    data = _prompt_bytes(args.text)
    assert data is not None
    manager.send(args.name, data, submit=not args.no_enter, hold=not args.now)
    return 0


def cmd_broadcast(args: argparse.Namespace) -> int:
    """Type a prompt into several sessions."""
    manager = open_manager(quiet=True, trust_notice=True)
    data = _prompt_bytes(args.text)
    assert data is not None
    reached = manager.broadcast(data, args.to)
    remote_verbs.say_problems(manager)

    if args.json:
        out.print_json(json.dumps(reached))
        return 0
    if not reached:
        raise AgentmuxError(f"no running session matched --to {args.to}; nothing was sent.")
    out.print(f"sent to {len(reached)}: {', '.join(reached)} (busy ones get it when idle)")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    """Attach full-screen to a session's tmux session."""
    manager = open_manager(quiet=True)
    if remote_verbs.is_remote(manager, args.name):
        return remote_verbs.attach_remote(manager, args.name)
    argv = manager.attach_argv(args.name)
    session_id = argv[-1]
    inside = os.environ.get("TMUX", "")
    if inside:
        if inside.split(",")[0] == str(manager.host.socket):
            argv = ["tmux", "-S", str(manager.host.socket), "switch-client", "-t", session_id]
        else:
            # In the user's own tmux: open the session in a new window there, not in this pane.
            argv = ["tmux", "new-window", "-n", f"agentmux:{args.name}", "env", "-u", "TMUX", *argv]
        return subprocess.run(argv, check=False).returncode
    os.execvp(argv[0], argv)  # noqa: S606 - replace this process with a full-screen attach
    return 0  # pragma: no cover - execvp does not return


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop a session's agent."""
    manager = open_manager(trust_notice=True)
    manager.stop(args.name)
    kick_deliveries(manager)
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Remove a session, keeping its work reachable."""
    manager = open_manager()
    if remote_verbs.is_remote(manager, args.name):
        kept = manager.remote.remove(args.name, force=args.force, delete_branch=args.delete_branch)
        out.print(f"{args.name}: removed on its host; its work is kept here at {kept}")
        return 0
    manager.remove(args.name, force=args.force, delete_branch=args.delete_branch)
    kick_deliveries(manager)
    return 0


def cmd_doctor(_args: argparse.Namespace) -> int:
    """Check the environment, one line per check."""
    from rich.text import Text  # noqa: PLC0415 - rich loads only when a verb prints for a person

    from agentmux.core.sessions.doctor import run_checks  # noqa: PLC0415 - keep other verbs' start fast

    checks = run_checks(Path.cwd())
    marks = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
    for check in checks:
        out.print(Text.assemble(marks[check.level], f" {check.name}: {check.detail}"))
    return 1 if any(c.level == "fail" for c in checks) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Create a scratch repository and start demo sessions in it."""
    from agentmux.core.git.demo_repo import DEMO_PROMPTS, make_demo_repo  # noqa: PLC0415

    target = Path(args.dir) if args.dir else None
    repo_root = make_demo_repo(target)
    out.print(f"demo repository: {repo_root}")
    manager = SessionManager.open(repo_root, on_event=report)
    for name, prompt in DEMO_PROMPTS[: args.sessions]:
        manager.create(agent="demo", name=name, prompt=prompt.encode(), deliver=False)
    if not args.no_tui:
        for record in manager.pending_deliveries():
            manager.deliver_prompt(record.id)
        return run_tui(manager, args.theme)
    for record in manager.pending_deliveries():
        manager.deliver_prompt(record.id)
    out.print(
        f"\n{args.sessions} demo sessions are working. Next:\n"
        f"  cd {repo_root}\n  agentmux ls\n  agentmux attach {DEMO_PROMPTS[0][0]}"
    )
    return 0


def cmd_tick(_args: argparse.Namespace) -> int:
    """Internal: reconcile, start queued sessions and deliver their prompts (tmux hooks call it)."""
    manager = open_manager(quiet=True)
    manager.reconcile()
    for record in manager.pending_deliveries():
        manager.deliver_prompt(record.id)
    manager.deliver_held_all(wait=True)
    return 0


def cmd_hook(args: argparse.Namespace) -> int:
    """What an agent's hook runs (agentmux gives its sessions the faster module form)."""
    return hook.main(["--codex", args.payload or "{}"] if args.codex else [])


def run_tui(
    manager: SessionManager, theme: str | None, *, web: bool = False, read_only: bool = False
) -> int:
    """Open the TUI on a repository's sessions; quitting leaves every agent running."""
    from agentmux.ui.app import AgentmuxApp  # noqa: PLC0415 - the headless verbs never load textual

    manager.on_event = lambda _event: None  # the TUI shows core events itself
    theme = theme or manager.config.theme
    AgentmuxApp(manager, theme=theme, web=web, read_only=read_only).run()
    return 0


def cmd_default(args: argparse.Namespace) -> int:
    """``agentmux`` with no verb: the TUI (``--web``: the one ``agentmux serve`` starts per
    browser tab)."""
    manager = open_manager(quiet=True)
    return run_tui(manager, args.theme, web=args.web, read_only=args.web_read_only)


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    parser = argparse.ArgumentParser(
        prog="agentmux",
        description="Run coding agents in parallel on one repository, each in its own worktree.",
    )
    parser.add_argument("--version", action="version", version=f"agentmux {__version__}")
    parser.add_argument(
        "-C", dest="chdir", metavar="PATH", help="run as if agentmux was started in PATH"
    )
    parser.add_argument(
        "--theme",
        help="TUI theme (agentmux-dark, agentmux-light, agentmux-high-contrast, or one of yours)",
    )
    # The TUI that `agentmux serve` runs for a browser tab: no attach, and maybe read-only.
    parser.add_argument("--web", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--read-only", dest="web_read_only", action="store_true", help=argparse.SUPPRESS
    )
    parser.set_defaults(func=cmd_default)
    verbs = parser.add_subparsers(title="verbs", metavar="VERB")

    def verb(
        name: str, func: Callable[[argparse.Namespace], int], text: str | None
    ) -> argparse.ArgumentParser:
        return add_verb(verbs, name, func, text)

    new = verb("new", cmd_new, "create a session: branch, worktree, tmux session, agent")
    new.add_argument("--agent", help="agent profile: claude, codex, demo or one from config")
    new.add_argument("--name", help="session name (default: <agent>-<n>)")
    new.add_argument("--base", help="branch or commit to start from (default: current HEAD)")
    new.add_argument(
        "--count",
        type=int,
        default=1,
        choices=range(1, 10),
        metavar="N",
        help="start N sessions at once (1-9; names NAME-1..NAME-N when --name is given)",
    )
    new.add_argument("--json", action="store_true", help="print the new session(s) as JSON")
    new.add_argument("--host", help="start it on this host (see `agentmux host add`)")
    new.add_argument(
        "--budget", metavar="USD", help="spending cap: warn at 80%%, stop prompting at 100%%"
    )
    new.add_argument(
        "prompt", nargs="?", help="prompt to type once the agent is ready ('-': stdin)"
    )

    ls = verb("ls", cmd_ls, "list sessions")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--all", action="store_true", help="include removed sessions")

    send = verb("send", cmd_send, "type a prompt into a session and press Enter")
    send.add_argument("name")
    send.add_argument("text", help="the prompt ('-': read stdin)")
    send.add_argument("--no-enter", action="store_true", help="type it without submitting")
    send.add_argument(
        "--now",
        action="store_true",
        help="type it even while the agent is busy (e.g. to answer its question)",
    )

    broadcast = verb("broadcast", cmd_broadcast, "type a prompt into several sessions")
    broadcast.add_argument("text", help="the prompt ('-': read stdin)")
    broadcast.add_argument("--to", default="all", help="all, idle, or NAME,NAME (default: all)")
    broadcast.add_argument("--json", action="store_true", help="print the names reached as JSON")

    attach = verb("attach", cmd_attach, "attach full-screen to a session (detach: C-b d)")
    attach.add_argument("name")

    stop = verb("stop", cmd_stop, "stop a session's agent (or take it off the queue)")
    stop.add_argument("name")

    rm = verb("rm", cmd_rm, "remove a session's worktree; refuses to lose work without --force")
    rm.add_argument("name")
    rm.add_argument(
        "--force",
        action="store_true",
        help="remove even with a running agent or unmerged work (archived to a ref)",
    )
    rm.add_argument("--delete-branch", action="store_true", help="delete its branch too")

    verb("doctor", cmd_doctor, "check tmux, git, agents and the state store")

    demo = verb("demo", cmd_demo, "create a scratch repository with demo sessions working")
    demo.add_argument("--dir", help="where to create it (default: a new temporary directory)")
    demo.add_argument("--no-tui", action="store_true", help="start the sessions, print, exit")
    demo.add_argument(
        "--sessions",
        type=int,
        default=4,
        choices=range(1, DEMO_SESSIONS_MAX + 1),
        metavar="N",
        help=f"how many sessions (1-{DEMO_SESSIONS_MAX}, default 4)",
    )

    conflicts.register(verbs)
    diff.register(verbs)
    commit.register(verbs)
    merge.register(verbs)
    cost.register(verbs)
    resume.register(verbs)
    trust.register(verbs)
    serve.register(verbs)
    host_verbs.register(verbs)
    remote_verbs.register(verbs)
    hook_verb = verb(
        "hook",
        cmd_hook,
        "record an agent's hook event for its session (run by the agents, not by you)",
    )
    hook_verb.add_argument("--codex", action="store_true", help="Codex notify: JSON as argument")
    hook_verb.add_argument("payload", nargs="?", help="the event's JSON (Codex)")
    verb("_tick", cmd_tick, None)
    return parser


def _log_crash() -> Path | None:
    try:
        log = state_dir() / "crash.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} agentmux {__version__}\n")
            handle.write(traceback.format_exc())
        return log
    except OSError:
        return None


def _chdir(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as exc:
        raise AgentmuxError(f"cannot work in {path}: {exc.strerror}.") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (a verb may reserve its own status for errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    failed: int = getattr(args, "error_exit", 1)
    try:
        if args.chdir:
            _chdir(args.chdir)
        if getattr(args, "forward_remote", False):
            forwarded = remote_verbs.forward(args, sys.argv[1:] if argv is None else argv)
            if forwarded is not None:
                return forwarded
        result: int = args.func(args)
        return result
    except AgentmuxError as exc:
        err.print(f"agentmux: {exc.message}")
        return exc.exit_code if failed == 1 else failed
    except KeyboardInterrupt:
        err.print("agentmux: interrupted.")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(f"agentmux: {exc.strerror or exc}{where}.")
        return failed
    except sqlite3.Error as exc:
        err.print(f"agentmux: the state database failed: {exc}.")
        return failed
    except Exception as exc:
        log = _log_crash()
        where = f"; details are in {log}" if log else ""
        err.print(f"agentmux: internal error ({type(exc).__name__}: {exc}){where}.")
        return EXIT_INTERNAL if failed == 1 else failed
