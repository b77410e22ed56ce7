"""`maildesk status`: is a daemon up, what came in, what is in quarantine, last error.

A daemon counts as up when its heartbeat is younger than two heartbeat intervals.
Exit 0 when at least one daemon is up, 3 otherwise (as `systemctl status` does).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from maildesk.auth.accounts import states
from maildesk.cli.common import desk_from, print_json
from maildesk.privacy.retention import status as retention_status
from maildesk.runtime.backlog import read_backlog
from maildesk.store.models import DaemonStatus, RawMessage
from maildesk.types import RawState
from maildesk.webhooks.queue import overview as webhook_overview

EX_NOT_RUNNING = 3


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="daemon heartbeat, intake counts, quarantine")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def is_up(row: DaemonStatus, now: datetime) -> bool:
    """Pure: running, and heard from within two heartbeat intervals."""
    interval = float((row.stats or {}).get("interval", 10))
    return ((row.stats or {}).get("state") != "stopped"
            and now - row.heartbeat_at <= timedelta(seconds=2 * interval))


def gather(desk) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    now = desk.clock()
    with desk.sessions() as session:
        daemons = session.execute(select(DaemonStatus)
                                  .order_by(DaemonStatus.heartbeat_at.desc())).scalars().all()
        by_source = dict(session.execute(select(RawMessage.source, func.count())
                                         .group_by(RawMessage.source)).all())
        by_state = dict(session.execute(select(RawMessage.state, func.count())
                                        .group_by(RawMessage.state)).all())
        backlog = read_backlog(session, now)
        webhooks = webhook_overview(session, desk.config.webhooks)
        retention = retention_status(session, desk.config.retention)
    return {"retention": retention, "up": any(is_up(d, now) for d in daemons),
            "daemons": [_daemon(d, now) for d in daemons],
            "stored_by_source": by_source, "stored_by_state": by_state,
            "quarantined": by_state.get(RawState.QUARANTINED, 0),
            "oauth": states(desk.config, now),
            "backlog": {**asdict(backlog), "idle": backlog.idle}, "webhooks": webhooks}


def _daemon(row: DaemonStatus, now: datetime) -> dict[str, Any]:
    stats = dict(row.stats or {})
    return {"name": row.name, "up": is_up(row, now), "started_at": row.started_at,
            "heartbeat_age_s": round((now - row.heartbeat_at).total_seconds(), 1),
            "state": stats.get("state"), "received": stats.get("received", {}),
            "outcomes": stats.get("outcomes", {}), "duplicates": stats.get("duplicates", 0),
            "errors": stats.get("errors", {}), "listening": stats.get("listening", []),
            "imap": stats.get("imap", []), "relay": stats.get("relay"),
            "restart_needed": stats.get("restart_needed", []),
            "last_error": row.last_error}


def run(args: argparse.Namespace) -> int:
    report = gather(desk_from(args, lenient=True))
    if args.json:
        print_json(report)
    else:
        _print(report)
    return 0 if report["up"] else EX_NOT_RUNNING


def _print(report: dict[str, Any]) -> None:
    print(f"daemon: {'up' if report['up'] else 'DOWN'}")
    for d in report["daemons"]:
        print(f"  {d['name']}: {'up' if d['up'] else 'down'} ({d['state']}), heartbeat "
              f"{d['heartbeat_age_s']}s ago, since {d['started_at']:%Y-%m-%d %H:%M:%S}")
        print(f"    listening {', '.join(d['listening']) or '-'}; imap {', '.join(d['imap']) or '-'}")
        print(f"    received {_pairs(d['received'])}; outcomes {_pairs(d['outcomes'])}; "
              f"duplicates {d['duplicates']}; errors {_pairs(d['errors'])}")
        if d["relay"]:
            print(f"    relay {_relay(d['relay'])}")
        if d["restart_needed"]:
            print("    restart needed: " + ", ".join(f"[{s}]" for s in d["restart_needed"])
                  + " changed since start; applied after a restart")
        if d["last_error"]:
            print(f"    last error: {d['last_error']}")
    print(f"stored by source: {_pairs(report['stored_by_source'])}")
    print(f"stored by state: {_pairs(report['stored_by_state'])}")
    print(f"quarantine: {report['quarantined']}")
    _print_backlog(report["backlog"])
    _print_oauth(report["oauth"])
    _print_webhooks(report["webhooks"])
    _print_retention(report["retention"])


def _print_webhooks(hooks: list[dict[str, Any]]) -> None:
    """One line per hook; a paused one says how to resume it."""
    for h in hooks:
        state = (f"PAUSED since {h['paused_at']} after {h['failures']} failures: "
                 f"{h['last_error']}; fix the receiver, then `maildesk webhooks retry "
                 f"--hook {h['name']}`" if h["paused_at"] else
                 f"{h['failures']} failure(s) in a row" if h["failures"] else "ok")
        print(f"webhook {h['name']}: {h['queued']} queued, {state}")


def _print_retention(r: dict[str, Any]) -> None:
    def days(n: int) -> str:
        return f"{n}d" if n else "kept"

    print(f"retention: raw {days(r['raw_days'])}, attachments {days(r['attachments_days'])}, "
          f"closed tickets {days(r['closed_ticket_days'])}; last pass {r['last_run'] or 'never'}"
          f"; purged raw {r['raw_purged']}, attachments {r['attachments_purged']}")


def _print_oauth(accounts: list[dict[str, Any]]) -> None:
    """One line per OAuth2 account; a revoked login stays here until `auth login`."""
    for a in accounts:
        until = f"valid until {a['valid_until']:%Y-%m-%d %H:%M:%S}" if a["valid"] else "expired"
        state = "LOGIN NEEDED: run `maildesk auth login " + a["name"] + "`" \
            if a["needs_login"] else until
        error = f"; last error: {a['last_error']}" if a["last_error"] else ""
        print(f"oauth2 {a['name']} ({a['provider']}): {state}{error}")


def _print_backlog(backlog: dict[str, Any]) -> None:
    print(f"not processed yet: {backlog['received']}{_oldest(backlog['oldest_received_age_s'])}")
    print(f"outbox: {backlog['outbox_queued']} queued ({backlog['outbox_due']} due now)"
          f"{_oldest(backlog['oldest_queued_age_s'])}")
    if backlog.get("outbox_last_error"):
        print(f"  last delivery error: {backlog['outbox_last_error']}")


def _oldest(age: float | None) -> str:
    return "" if age is None else f", oldest {age:.0f}s old"


def _relay(relay: dict[str, Any]) -> str:
    if relay.get("ok") is None:
        return f"{relay.get('target')}: not checked yet"
    if relay["ok"]:
        return f"{relay['target']}: OK"
    return f"{relay['target']}: UNREACHABLE since {relay['since']}: {relay['error']}"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"
