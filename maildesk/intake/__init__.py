"""Intakes: one module per source (SMTP/LMTP, IMAP, import), each ending in the Receiver's accept(RawMail)."""
