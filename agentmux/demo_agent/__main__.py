"""Run the demo agent: ``python -m agentmux.demo_agent``."""

from agentmux.demo_agent.agent import main

raise SystemExit(main())
