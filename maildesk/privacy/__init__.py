"""Privacy: what the desk holds about a person, export, erasure and retention."""
