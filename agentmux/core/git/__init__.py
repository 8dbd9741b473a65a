"""git: the repository and its worktrees, snapshots of work in progress, the conflict radar, and
merges.

Imports only core's shared leaves; never tmux, agents, metrics or sessions.
"""
