"""Loki adapter: HTTP client, resilience policy, response parsing, error mapping."""

from ailogs.loki.client import LokiClient
from ailogs.loki.models import IndexStats, QueryResponse, QueryStats, Series

__all__ = ["IndexStats", "LokiClient", "QueryResponse", "QueryStats", "Series"]
