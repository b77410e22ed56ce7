"""Ticket operations and lifecycle, the threader, satisfaction, views and signed links."""
