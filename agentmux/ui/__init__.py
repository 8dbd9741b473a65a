"""The Textual TUI: turns core events into messages; never calls tmux or git directly."""
