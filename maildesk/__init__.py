"""maildesk: an email-centric help desk."""

__version__ = "0.1.0"
