"""The bundled demo agent: offline, deterministic, Claude Code transcript format."""
