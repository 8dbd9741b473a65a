"""The connections of one agentmux process: one :class:`SshConnection` (one master) per host.

A master outlives the process (``ControlPersist``): the next agentmux command finds it by its
control socket and logs in no more. :meth:`SshPool.close` stops the masters this pool used, for a
caller that is done with a host (``host rm``) or a test cleaning up.
"""

from __future__ import annotations

import threading

from agentmux.core.config.hosts import HostEntry, get_host
from agentmux.core.host.ssh.command import SshSettings
from agentmux.core.host.ssh.connection import SshConnection


class SshPool:
    """One connection per host name, made on first use and shared by every thread."""

    def __init__(self, settings: SshSettings | None = None) -> None:
        self.settings = settings or SshSettings()
        self._connections: dict[str, SshConnection] = {}
        self._lock = threading.Lock()

    def connection(self, name: str, entry: HostEntry | None = None) -> SshConnection:
        """The connection to host ``name`` (its entry read from the user's hosts unless given).
        Nothing is opened yet: the first :meth:`SshConnection.run` does that."""
        entry = entry or get_host(name)
        with self._lock:
            found = self._connections.get(name)
            argv = tuple(entry.ssh_argv())
            if found is None or (found.target, found.command.ssh_argv) != (entry.target, argv):
                found = SshConnection(name, entry.target, argv, settings=self.settings)
                self._connections[name] = found
            return found

    def close(self) -> list[str]:
        """Stop every master this pool used; the names of those that were running."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        return [c.name for c in connections if c.close()]

    def __enter__(self) -> SshPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
