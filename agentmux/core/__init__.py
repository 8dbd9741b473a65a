"""Headless domain logic: sessions, tmux, git, state. Never imports textual or rich."""
