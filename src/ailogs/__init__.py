"""ailogs: log intelligence for AI agents, in front of Grafana Loki."""

__version__ = "0.1.0"
