"""``agentmux serve``: the cockpit (the TUI) in a browser, behind a secret token.

Each browser tab that opens the page gets its own TUI process (``agentmux --web``, started by
textual-serve, see :mod:`agentmux.web.server`); closing the tab ends that TUI, never an agent.
The server listens on loopback unless ``--bind`` says otherwise. The verb imports the web server
(aiohttp, textual-serve) only when it runs: other verbs start no slower.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from pathlib import Path

from agentmux.commands.common import add_verb, err, open_manager, out

DEFAULT_PORT = 8421
LOOPBACK = "127.0.0.1"


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` verb."""
    serve = add_verb(
        verbs, "serve", cmd_serve, "serve the cockpit to a browser (a URL with a secret token)"
    )
    serve.add_argument(
        "--bind",
        metavar="ADDRESS",
        help=f"the address to listen on (default {LOOPBACK}; any other is reachable by others)",
    )
    serve.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: any"
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="the page shows everything but types nothing into agents and changes nothing",
    )
    serve.add_argument(
        "--token-file", metavar="FILE", help="the token to require, instead of a random one"
    )


def port_number(text: str) -> int:
    """A TCP port (0 lets the system choose)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    import ipaddress  # noqa: PLC0415 - only this verb needs it (the verbs' start-up is measured)

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, maybe not loopback


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets; every address: this host)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming it, not binding it
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def child_command(root: Path, *, read_only: bool, theme: str | None) -> str:
    """The shell command textual-serve runs for each browser tab: this agentmux's TUI in web
    mode (``exec``: the TUI is the process the server ends on shutdown, not a shell)."""
    argv = [sys.executable, "-m", "agentmux", "-C", str(root), "--web"]
    if read_only:
        argv.append("--read-only")
    if theme:
        argv += ["--theme", theme]
    return "exec " + shlex.join(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the cockpit of this repository until Ctrl+C; print the URL to open."""
    from agentmux.web.token import make_token, read_token_file  # noqa: PLC0415

    token_file = Path(args.token_file) if args.token_file else None
    token = read_token_file(token_file) if token_file else make_token()
    manager = open_manager(quiet=True)  # not a repository, no tmux: one sentence, here
    root = manager.repo.root
    manager.close()
    host = args.bind if args.bind is not None else LOOPBACK
    command = child_command(root, read_only=args.read_only, theme=args.theme)
    title = f"agentmux · {root.name}" + (" (read-only)" if args.read_only else "")

    from agentmux.web.server import CockpitServer  # noqa: PLC0415 - aiohttp, textual-serve

    server = CockpitServer(command, host=host, port=args.port, token=token, title=title)

    def listening(port: int) -> None:
        url = f"http://{url_host(host)}:{port}/"
        mode = " read-only" if args.read_only else ""
        err.print(f"agentmux: serving the{mode} cockpit of {root}; Ctrl+C stops (agents go on)")
        if not is_loopback(host):
            err.print(
                f"agentmux: warning: listening on {host}, reachable from other machines; "
                "anyone with the token drives your agents. Prefer the default (loopback) "
                f"with an ssh tunnel (ssh -L {port}:127.0.0.1:{port} HOST), or a private network."
            )
        if token_file is None:
            out.print(f"{url}?token={token}")
        else:
            out.print(url)
            err.print(f"agentmux: open it with ?token= and the token in {token_file}")
        sys.stdout.flush()

    server.run(listening)
    return 0
