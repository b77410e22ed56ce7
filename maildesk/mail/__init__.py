"""Reading mail: parse (the only user of mail-parser), MIME, DSN, Authentication-Results,
quotes, language, loops, Thread-Index, and addresses (the desk's one address comparison)."""
