"""Agents: profiles (how to start each kind), what the agents report through hooks, readiness,
attention, and prompts held until an agent can take them.

Imports config, tmux, git and the shared leaves; never metrics or sessions.
"""
