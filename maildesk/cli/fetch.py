"""`maildesk fetch [--reconcile]`: one IMAP pass over every account, then exit (cron mode).

Exit 0 when every account was read, 75 (EX_TEMPFAIL) when storage is down (nothing was
moved or flagged: the next run fetches the same mail again), 1 when an account failed.
"""

from __future__ import annotations

import argparse
import logging
import sys

from maildesk.cli.common import desk_from, print_json
from maildesk.errors import TemporaryFailure, TokenUnavailable
from maildesk.intake.imap import fetch_once
from maildesk.intake.receiver import Receiver
from maildesk.intake.reconcile import Reconciliation, reconcile

log = logging.getLogger(__name__)
EX_TEMPFAIL = 75


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fetch", help="pull mail from the [[imap]] accounts once")
    parser.add_argument("--account", action="append", help="only this account (repeatable)")
    parser.add_argument("--reconcile", action="store_true",
                        help="report mail in the mailbox missing from the desk, and back")
    parser.add_argument("--json", action="store_true", help="with --reconcile: JSON output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    accounts = [a for a in desk.config.imap if not args.account or a.name in args.account]
    if not accounts:
        print("no [[imap]] account to fetch from", file=sys.stderr)
        return 1
    if args.reconcile:
        return _reconcile_all(desk, accounts, args.json)
    receiver, failed = Receiver(desk), 0
    for account in accounts:
        try:
            print(f"{account.name}: {fetch_once(account, receiver)} message(s)")
        except TokenUnavailable as exc:  # OAuth2: this account waits, the next goes on
            print(f"{account.name}: failed: {exc}", file=sys.stderr)
            failed += 1
        except TemporaryFailure as exc:
            print(f"maildesk fetch: storage unavailable, try again later: {exc}",
                  file=sys.stderr)
            return EX_TEMPFAIL
        except Exception as exc:  # noqa: BLE001 - report the account, go on with the next
            print(f"{account.name}: failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _reconcile_all(desk, accounts, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    results = [reconcile(desk, account) for account in accounts]
    if as_json:
        print_json([{"account": r.account, "in_mailbox": r.in_mailbox,
                     "missing_from_desk": list(r.missing_from_desk),
                     "missing_from_mailbox": list(r.missing_from_mailbox)} for r in results])
    else:
        for result in results:
            _print(result)
    return 1 if any(r.missing_from_desk for r in results) else 0


def _print(r: Reconciliation) -> None:
    print(f"{r.account}: {r.in_mailbox} message(s) in the mailbox, "
          f"{len(r.missing_from_desk)} missing from the desk, "
          f"{len(r.missing_from_mailbox)} stored but no longer in the mailbox")
    for mid in r.missing_from_desk:
        print(f"  missing from desk: <{mid}>")
    for mid in r.missing_from_mailbox:
        print(f"  not in mailbox:    <{mid}>")
