"""Another machine's agentmux, driven over ssh: its sessions, their panes and their git refs.

The host runs agentmux too: its own private tmux server, state store, hooks and transcripts. The
agentmux here drives it with its JSON verbs over one multiplexed ssh connection
(:mod:`agentmux.core.host.ssh`), mirrors its panes with tmux control mode over that connection,
and moves code with git over the same ssh.
"""
