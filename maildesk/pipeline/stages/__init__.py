"""Pipeline stages, one concern per module; each takes (desk, session, item) and returns an Item."""
