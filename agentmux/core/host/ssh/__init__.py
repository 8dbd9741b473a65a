"""Hosts over ssh: the transport for sessions on other machines (issue 14's foundation).

agentmux reaches another machine with the system's OpenSSH client, so the user's
``~/.ssh/config``, agent, keys, jump hosts and known_hosts work as they do for git. Per host there
is one long-lived multiplexed master connection (``ControlMaster``/``ControlPersist``, its socket
in agentmux's private socket directory, ``ServerAliveInterval`` keepalives, ``BatchMode`` so a
passphrase prompt never hangs); every command is a channel on it, never one login per operation.

- :mod:`~agentmux.core.host.ssh.command`: the ssh command lines (argument lists, never a shell
  string built from user input) and the control socket's path;
- :mod:`~agentmux.core.host.ssh.faults`: ssh's failures as one sentence each (:class:`SshError`);
- :mod:`~agentmux.core.host.ssh.connection`: :class:`SshConnection`, the master and ``run``;
- :mod:`~agentmux.core.host.ssh.pool`: :class:`SshPool`, one connection per host;
- :mod:`~agentmux.core.host.ssh.check`: ``host check`` (reachable; agentmux, tmux, git there).

Hosts themselves are kept in the user's config (:mod:`agentmux.core.config.hosts`). Not built yet:
a ``Host`` implementation over ssh (remote sessions), tmux control mode over ssh, moving code
with git, and remote spend (docs/remote-hosts.md).
"""

from agentmux.core.host.ssh.command import SshSettings
from agentmux.core.host.ssh.connection import RunResult, SshConnection
from agentmux.core.host.ssh.faults import SshError, SshFault
from agentmux.core.host.ssh.pool import SshPool

__all__ = ["RunResult", "SshConnection", "SshError", "SshFault", "SshPool", "SshSettings"]
