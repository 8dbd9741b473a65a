"""A tmux server that exits as a client reaches it (killed, or its last session closing) does not
fail ``new``: the session is looked for by its tag, and made again only when it is not there."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from agentmux.core.tmux.server import TmuxServer
from tests.conftest import Home


def a_server_that_exits_once(path: Path) -> threading.Thread:
    """Listen on ``path`` like a tmux server, take one client and exit under it (tmux's client
    then says "server exited unexpectedly"), leaving the socket path free."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        listener.close()
        path.unlink()
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_new_session_survives_a_server_exiting_under_it(home: Home, tmp_path: Path) -> None:
    sock = home.sockets / "gone"
    server = TmuxServer(sock)
    exiting = a_server_that_exits_once(sock)
    try:
        pane = server.new_session("a", cwd=tmp_path, command=["sleep", "30"], agentmux_id="tag-a")
        exiting.join(timeout=5)
        assert not exiting.is_alive()  # the first client did reach the exiting "server"
        tagged = [p for p in server.panes() if p.agentmux_id == "tag-a"]
        assert [p.pane_id for p in tagged] == [pane.pane_id]
    finally:
        server.kill_server()
