"""tmux: agentmux's private server (sessions, panes, tags), the command wrapper a pane runs, and
the control-mode connection that mirrors screens.

Imports only core's shared leaves; never git, agents, metrics or sessions.
"""
