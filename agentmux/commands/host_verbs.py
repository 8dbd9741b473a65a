"""``agentmux host``: the machines agentmux reaches over ssh (add, ls, rm, check).

Hosts live in the user's ``hosts.toml`` (:mod:`agentmux.core.config.hosts`); ``check`` logs in
through the host's one ssh master connection (:mod:`agentmux.core.host.ssh`) and reports its
agentmux, tmux and git. See docs/remote-hosts.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from agentmux import __version__
from agentmux.commands.common import add_verb, out, print_table
from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.manager import SessionManager

# The hosts file's models and the ssh modules are imported by the verbs that use them: every
# other verb's start-up (``ls``, hooks, a host's answers) would pay for them.


def cmd_host_add(args: argparse.Namespace) -> int:
    """Record a host; nothing is contacted (``host check`` does that)."""
    from agentmux.core.config import hosts as hosts_file  # noqa: PLC0415 - see the imports

    hosts_file.validate_host_name(args.name)
    entry = hosts_file.make_entry(
        args.target, agentmux=args.agentmux, ssh_command=args.ssh_command, path=args.path
    )
    hosts_file.add_host(args.name, entry)
    out.print(
        f"added host {args.name} ({entry.target}) to {hosts_file.hosts_path()}; "
        f"check it with `agentmux host check {args.name}`"
    )
    return 0


def cmd_host_ls(args: argparse.Namespace) -> int:
    """List the hosts."""
    from rich.table import Table  # noqa: PLC0415 - rich loads only when a verb prints for a person

    from agentmux.core.config import hosts as hosts_file  # noqa: PLC0415 - see the imports

    hosts = hosts_file.load_hosts()
    if args.json:
        out.print_json(json.dumps([{"name": n, **e.to_json()} for n, e in sorted(hosts.items())]))
        return 0
    if not hosts:
        out.print("no hosts yet: add one with `agentmux host add NAME TARGET`")
        return 0
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "TARGET", "AGENTMUX", "SSH COMMAND", "PATH"):
        table.add_column(column, no_wrap=True)
    for name, entry in sorted(hosts.items()):
        table.add_row(
            name, entry.target, entry.agentmux, entry.ssh_command or "ssh", entry.path or "-"
        )
    print_table(table)
    return 0


def cmd_host_rm(args: argparse.Namespace) -> int:
    """Forget a host and stop its ssh master connection; refused, in a repository, while
    sessions of it run there (they would be left with no way to reach them)."""
    from agentmux.core.config import hosts as hosts_file  # noqa: PLC0415 - see the imports
    from agentmux.core.host.ssh import SshPool  # noqa: PLC0415

    if not args.force:
        _refuse_with_sessions(args.name)
    entry = hosts_file.remove_host(args.name)
    with contextlib.suppress(AgentmuxError, OSError):
        SshPool().connection(args.name, entry).close()
    out.print(f"removed host {args.name} ({entry.target})")
    return 0


def _refuse_with_sessions(name: str) -> None:
    try:
        manager = SessionManager.open(Path.cwd())
    except AgentmuxError:
        return  # not in a repository (or none agentmux can open): nothing here to check
    try:
        names = [r.name for r in manager.remote.rows() if r.host == name]
    finally:
        manager.close()
    if names:
        raise AgentmuxError(
            f"host {name} still has sessions of this repository ({', '.join(names)}); remove "
            f"them first (agentmux rm NAME), or forget the host anyway with --force."
        )


def cmd_host_check(args: argparse.Namespace) -> int:
    """Log in to a host and check its agentmux, tmux and git: one line each."""
    from agentmux.core.config import hosts as hosts_file  # noqa: PLC0415 - see the imports
    from agentmux.core.host.ssh import SshPool  # noqa: PLC0415
    from agentmux.core.host.ssh.check import check_host  # noqa: PLC0415

    entry = hosts_file.get_host(args.name)
    connection = SshPool().connection(args.name, entry)
    report = check_host(connection, entry, __version__)
    for line in report.lines():
        out.print(line)
    if report.problem:
        raise AgentmuxError(report.problem)
    return 0


def register(verbs: Any) -> None:
    """Add the ``host`` verb and its actions."""
    host = add_verb(
        verbs, "host", lambda _a: 0, "machines agentmux reaches over ssh: add, ls, rm, check"
    )
    actions = host.add_subparsers(title="actions", metavar="ACTION", required=True)

    add = add_verb(actions, "add", cmd_host_add, "add a host (nothing is contacted)")
    add.add_argument("name", help="what agentmux calls it (letters, digits, '-', '_')")
    add.add_argument("target", help="ssh destination: [user@]host or an alias from ssh config")
    add.add_argument(
        "--agentmux", metavar="PATH", help="agentmux on that host (default: agentmux on its PATH)"
    )
    add.add_argument(
        "--ssh-command",
        metavar="CMD",
        help="ssh program and options, e.g. 'ssh -F /path/to/config' (like git's core.sshCommand)",
    )
    add.add_argument("--path", metavar="DIR", help="where the host keeps its clones")

    ls = add_verb(actions, "ls", cmd_host_ls, "list hosts")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    rm = add_verb(actions, "rm", cmd_host_rm, "forget a host and close its ssh connection")
    rm.add_argument("name")
    rm.add_argument(
        "--force", action="store_true", help="forget it even with sessions of this repository"
    )

    check = add_verb(actions, "check", cmd_host_check, "log in; show agentmux, tmux and git there")
    check.add_argument("name")
