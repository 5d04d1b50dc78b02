"""ailogs: log intelligence for AI agents, in front of Grafana Loki."""
