"""Command groups of the `maildesk` CLI; each module exposes register(subparsers)."""
