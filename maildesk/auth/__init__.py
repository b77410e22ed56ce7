"""OAuth2 for the desk's own mailboxes (IMAP intake, SMTP relay).

state (pure decisions: when to refresh, what an error means, what to announce), store
(the token files, mode 0600), providers (HTTP: MSAL for Microsoft, Authlib for Google
and generic servers), tokens (the refresher the intake and the outbox call), sasl
(which mechanism to use), login (the interactive first login of `maildesk auth login`).
"""
