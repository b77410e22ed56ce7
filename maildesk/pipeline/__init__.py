"""The stage list, accept/process/recover, and the Item that flows between stages."""
