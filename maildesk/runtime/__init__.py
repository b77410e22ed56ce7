"""The running desk, the daemon supervisor, metrics and the checks behind `maildesk check`."""
