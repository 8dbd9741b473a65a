"""Metrics: transcript and rollout readers, token usage, prices, budgets, runs across resumes, the
conflict rate and the cost report.

Imports agents, git, config and the shared leaves; never tmux or sessions.
"""
