"""Outgoing webhooks: signed JSON posts of desk events, queued with the event, delivered in order."""
