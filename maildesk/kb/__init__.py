"""The knowledge base: drafts from solved tickets, publishing, search."""
