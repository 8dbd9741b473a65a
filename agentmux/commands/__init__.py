"""Verbs of the agentmux command, one module per concern; agentmux.cli composes them."""
