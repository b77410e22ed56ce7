"""`maildesk run`: the daemon (SMTP/LMTP listener, IMAP pull, workers) in the foreground.

Made for systemd (Type=notify): logs go to stderr, READY=1 is sent once the listener
accepts connections, SIGTERM stops it cleanly and SIGHUP reloads the configuration.
"""

from __future__ import annotations

import argparse

from maildesk.cli.common import config_from
from maildesk.runtime.daemon import serve
from maildesk.runtime.desk import open_holder


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run the daemon: listener, IMAP pull and workers")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    return serve(open_holder(config), config.path)
