"""``agentmux commit``: commit a session's work in progress on its own branch, in its worktree.

Exit status: 0 when it committed, and when there was nothing to commit (a script can always run it
before ``merge``); 1 when it refused (the agent in a turn, a missing or mid-rebase worktree, no git
identity, a hook that failed).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from agentmux.commands.common import add_verb, open_manager, out
from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.commit_work import AgentBusyError, commit_work


def cmd_commit(args: argparse.Namespace) -> int:
    """Commit one session's work in progress."""
    from rich.text import Text  # noqa: PLC0415 - rich loads only when a verb prints for a person

    manager = open_manager(quiet=True)
    try:
        try:
            result = commit_work(manager, args.name, args.message, force=args.force)
        except AgentBusyError as exc:
            raise AgentmuxError(
                f"{exc.message.rstrip('.')}, or commit anyway with --force."
            ) from exc
        if args.json:
            out.print_json(
                json.dumps(
                    {
                        "name": result.name,
                        "commit": result.commit,
                        "files": result.files,
                        "message": result.message,
                        "left_out": list(result.left_out),
                    }
                )
            )
        elif result.commit is None:
            out.print(
                f"nothing to commit in {result.name}: its worktree has no uncommitted or "
                "untracked changes."
            )
        else:
            subject = result.message.split("\n", 1)[0]
            branch = manager.get(result.name).branch
            out.print(
                Text.assemble(
                    ("committed", "green"),
                    f" {result.files} file(s) of {result.name} on {branch} as "
                    f"{result.commit[:10]}: {subject}",
                )
            )
        for path in result.left_out if not args.json else ():
            out.print(
                f"left out {path}: a nested git repository with no commit yet (git cannot add "
                "one); its files are still in the worktree: commit in it first to include it."
            )
        return 0
    finally:
        manager.close()


def register(verbs: Any) -> None:
    """Add the ``commit`` verb."""
    text = (
        "commit a session's work in progress (all changes and untracked files, not ignored ones) "
        "on its own branch, with the repository's hooks"
    )
    sub = add_verb(verbs, "commit", cmd_commit, text)
    sub.add_argument("name", metavar="NAME")
    sub.set_defaults(forward_remote=True)  # a session on another host: its host runs it
    sub.add_argument(
        "-m",
        "--message",
        metavar="MSG",
        help="the commit message (default: the session's name and its first prompt's first line)",
    )
    sub.add_argument(
        "--force", action="store_true", help="commit even while the agent is in a turn"
    )
    sub.add_argument("--json", action="store_true", help="print what was committed as JSON")
