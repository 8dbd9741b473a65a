"""Configuration: the user's and the repository's agentmux.toml, validated, and the trust the user
gave a repository's file.

Imports only core's shared leaves.
"""
