"""Agents by mail: #commands, identity, the actions they drive, signed reply tokens."""
