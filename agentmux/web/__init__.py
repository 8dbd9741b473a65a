"""The cockpit in a browser: ``agentmux serve`` runs the TUI behind textual-serve, one TUI
process per browser tab, every request checked against a secret token first.

``token`` makes and reads the token; ``server`` is the web server (textual-serve's, with the
token checked before anything runs). Nothing here is imported by the core or the TUI, and
textual-serve (with aiohttp) is imported only when ``serve`` runs.
"""
