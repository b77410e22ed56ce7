"""The JSON API under /api/v1: per-agent tokens, tickets, the agents' actions, OpenAPI."""
