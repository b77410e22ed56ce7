"""`maildesk fetch --reconcile`: compare an IMAP account with what the desk stored.

Read-only on both sides (EXAMINE, BODY.PEEK): it reports, it never fixes, because the
fix (fetch again, or look into a missing mailbox) is an admin's call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from imapclient import IMAPClient
from sqlalchemy import select

from maildesk.config.model import ImapAccount
from maildesk.intake.imap import batches, connect
from maildesk.mail.mime import header_message_id
from maildesk.runtime.desk import Desk
from maildesk.store.models import RawMessage
from maildesk.store.text import column_length, stored_form

CHUNK = 500  # Message-IDs per IN (...) query


@dataclass(frozen=True, slots=True)
class Reconciliation:
    account: str
    in_mailbox: int
    missing_from_desk: tuple[str, ...]  # in the mailbox, never stored by the desk
    missing_from_mailbox: tuple[str, ...]  # stored from this account, gone from the mailbox


def compare(account: str, mailbox: set[str], stored: set[str],
            from_account: set[str]) -> Reconciliation:
    """Pure: `stored` is which of the mailbox's IDs the desk has (from any source)."""
    return Reconciliation(account, len(mailbox), tuple(sorted(mailbox - stored)),
                          tuple(sorted(from_account - mailbox)))


def mailbox_ids(client: IMAPClient, folders: Iterable[str]) -> set[str]:
    ids: set[str] = set()
    for folder in folders:
        if not client.folder_exists(folder):
            continue
        client.select_folder(folder, readonly=True)
        for batch in batches(sorted(client.search(["ALL"])), 200):
            for data in client.fetch(batch, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
                mid = header_message_id(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b""))
                if mid:  # as the desk stores it, so over-long ids compare equal
                    ids.add(stored_form(mid, column_length(RawMessage.message_id)))
    return ids


def desk_ids(desk: Desk, account: str, wanted: set[str]) -> tuple[set[str], set[str]]:
    """(which of `wanted` the desk stored, every Message-ID stored from this account)."""
    found: set[str] = set()
    ordered = sorted(wanted)
    with desk.sessions() as session:
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            found.update(m for m in session.execute(select(RawMessage.message_id)
                         .where(RawMessage.message_id.in_(chunk))).scalars() if m)
        ours = session.execute(select(RawMessage.message_id).where(
            RawMessage.source_ref.like(f"imap:{account}/%"),
            RawMessage.message_id.is_not(None))).scalars()
        return found, {m for m in ours if m}


def reconcile(desk: Desk, account: ImapAccount) -> Reconciliation:
    client = connect(account)
    try:
        folders = [account.folder] + ([account.processed_folder]
                                      if account.processed_folder else [])
        in_mailbox = mailbox_ids(client, folders)
    finally:
        client.logout()
    stored, from_account = desk_ids(desk, account.name, in_mailbox)
    return compare(account.name, in_mailbox, stored, from_account)
