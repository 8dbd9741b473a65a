"""``agentmux merge``: merge ready sessions into their base branch, in a safe order, all or nothing.

Exit status: 0 when every session asked for was merged (or, with ``--dry-run``, would be), 1 when
any was left out, the check failed or nothing could be landed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agentmux.commands.common import err, open_manager, out
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.integration import run_check
from agentmux.core.git.merge import MergePlan, describe_plan
from agentmux.core.sessions.manager import SessionManager


def plan_json(plan: MergePlan) -> dict[str, Any]:
    """The documented JSON form of a merge plan (docs/conflicts.md)."""
    files = {w.name: w.files for w in plan.committed}
    return {
        "into": plan.into,
        "base_before": plan.base_before,
        "result": plan.result,
        "squash": plan.squash,
        "order": [
            {
                "name": s.name,
                "branch": s.branch,
                "tip": s.tip,
                "committed_files": files.get(s.name, 0),
            }
            for s in plan.steps
        ],
        "left_out": [
            {"name": x.name, "reason": x.reason, "committed_files": files.get(x.name, 0)}
            for x in plan.left_out
        ],
        "committed": [
            {"name": w.name, "files": w.files, "commit": w.commit} for w in plan.committed
        ],
        "notes": list(plan.notes),
    }


def print_plan(plan: MergePlan) -> None:
    """The plan in words."""
    for line in describe_plan(plan):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _offer_removal(manager: SessionManager, plan: MergePlan, remove: bool | None) -> None:
    names = [s.name for s in plan.steps]
    if remove is None and sys.stdin.isatty() and sys.stdout.isatty():
        answer = input(f"Remove the merged session(s) {', '.join(names)}? [y/N] ")
        remove = answer.strip().lower() in ("y", "yes")
    if not remove:
        out.print(f"Remove merged sessions with: agentmux rm {' '.join(names)}", highlight=False)
        return
    for name in names:
        try:
            if (row := manager.remote.find(name)) is not None:
                if row.row.get("status") in ("running", "starting"):
                    raise AgentmuxError(
                        f"its agent is still running on host {row.host}; stop it first "
                        f"(agentmux stop {name}), then agentmux rm {name}"
                    )
                # Its host was told which tip landed here (tell_hosts): its own rules apply.
                manager.remote.remove(name)
                continue
            manager.remove(name)
        except AgentmuxError as exc:  # the core's safety rules still apply
            err.print(f"kept {name}: {exc.message}", markup=False)


def _head(manager: SessionManager, branch: str) -> str | None:
    try:
        return git.branch_commit(manager.repo, branch)
    except AgentmuxError:
        return None


def cmd_merge(args: argparse.Namespace) -> int:
    """Plan, optionally check, then land; print what happened."""
    from rich.text import Text  # noqa: PLC0415 - rich loads only when a verb prints for a person

    if not args.names and not args.all:
        raise AgentmuxError("name the sessions to merge, or use --all.")
    if args.names and args.all:
        raise AgentmuxError("give session names or --all, not both.")
    manager = open_manager(quiet=True)
    try:
        plan = manager.merge_plan(
            None if args.all else args.names,
            into=args.into,
            squash=args.squash,
            commit=args.commit,
            dry_run=args.dry_run,
        )
        if args.json and args.dry_run:
            print(json.dumps(plan_json(plan), indent=2))
        elif not args.json:
            print_plan(plan)
        if args.dry_run or not plan.steps:
            return 0 if not plan.left_out else 1
        if args.check:
            err.print(f"checking the result with: {args.check}", markup=False, highlight=False)
            check = run_check(manager.repo, plan.result, args.check, manager.home / "integration")
            if check.exit_status != 0:
                sys.stderr.write(check.output[-4000:])
                raise AgentmuxError(
                    f"the check failed (exit status {check.exit_status}); nothing was merged "
                    f"and {plan.into} is unchanged."
                )
        try:
            untold = manager.land_merge(plan)
        except KeyboardInterrupt:
            # A Ctrl-C during landing waits for it: say that it landed before exiting.
            if _head(manager, plan.into) != plan.result:
                raise
            err.print(
                f"agentmux: interrupted after the merge landed: {plan.into} is at "
                f"{plan.result[:10]}.",
                markup=False,
            )
            return 130
        for note in untold:
            err.print(f"agentmux: {note}.", markup=False)
        if args.json:
            print(json.dumps({**plan_json(plan), "merged": True}, indent=2))
        else:
            merged = ", ".join(s.name for s in plan.steps)
            out.print(
                Text.assemble(
                    ("merged", "green"), f" {merged} into {plan.into} (now at {plan.result[:10]})"
                )
            )
            _offer_removal(manager, plan, args.remove)
        return 0 if not plan.left_out else 1
    finally:
        manager.close()


def register(verbs: Any) -> None:
    """Add the ``merge`` verb to the CLI's sub-parsers."""
    text = "merge ready sessions into their base branch in a conflict-free order, all or nothing"
    sub = verbs.add_parser("merge", help=text, description=text)
    sub.add_argument("names", nargs="*", metavar="NAME", help="sessions to merge")
    sub.add_argument("--all", action="store_true", help="every session")
    sub.add_argument("--into", help="branch to merge into (default: the sessions' base branch)")
    sub.add_argument("--squash", action="store_true", help="one commit per session")
    sub.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    sub.add_argument(
        "--commit",
        action="store_true",
        help="first commit each session's work in progress on its branch (as agentmux commit "
        "does; a session whose agent is in a turn is left out); with --dry-run, only say what "
        "would be committed",
    )
    sub.add_argument(
        "--check",
        metavar="CMD",
        help="run CMD (e.g. 'make test') on the whole result in a throw-away worktree first; "
        "land nothing unless it passes",
    )
    removal = sub.add_mutually_exclusive_group()
    removal.add_argument(
        "--remove", action="store_true", default=None, help="remove merged sessions"
    )
    removal.add_argument("--keep", dest="remove", action="store_false", help="keep merged sessions")
    sub.add_argument("--json", action="store_true", help="machine-readable output")
    sub.set_defaults(func=cmd_merge)
