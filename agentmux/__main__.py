"""Allow ``python -m agentmux``."""

from agentmux.cli import main

raise SystemExit(main())
