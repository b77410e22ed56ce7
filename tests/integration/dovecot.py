"""A real Dovecot IMAP server on loopback, for the IMAP intake tests.

Everything lives in one temp dir (config, sockets, state, maildirs) and the server listens
on an unprivileged ephemeral port, so tests need neither root-owned files nor a system
Dovecot. When run as root, Dovecot refuses UID 0 for mail processes, so mail is owned by
an unprivileged user (nobody) and the temp dir is made traversable for it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "desk", "desk-password"

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


OAUTH2 = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""
OAUTH2_ARGS = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accounts() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid) that work for whoever runs this."""
    if os.geteuid() != 0:
        return (pwd.getpwuid(os.geteuid()).pw_name,) * 2 + (os.geteuid(), os.getegid())
    nobody = pwd.getpwnam("nobody")
    internal = "dovecot" if _exists("dovecot") else "nobody"
    login = "dovenull" if _exists("dovenull") else "nobody"
    return internal, login, nobody.pw_uid, nobody.pw_gid


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class Dovecot:
    """One Dovecot process; stop() and start() again keep its mail (a server restart)."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    introspection_url: str | None = None  # set: XOAUTH2/OAUTHBEARER checked there too

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def write_config(self) -> None:
        internal, login, uid, gid = _accounts()
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, uid, gid) if os.geteuid() == 0 else None
        self.root.chmod(0o755)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        conf = CONF.format(root=self.root, port=self.port, internal=internal,
                           login=login, uid=uid, gid=gid)
        if self.introspection_url:
            conf = conf.replace("auth_mechanisms = plain login",
                                "auth_mechanisms = plain login xoauth2 oauthbearer\n"
                                "auth_failure_delay = 0")
            conf = conf.replace("passdb {\n  driver = passwd-file",
                                "passdb {\n  mechanisms = plain login\n  driver = passwd-file")
            conf += OAUTH2.format(root=self.root)
            (self.root / "dovecot-oauth2.conf.ext").write_text(
                OAUTH2_ARGS.format(url=self.introspection_url))
        self.conf.write_text(conf)

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}"
                                   f"{self.log()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def start_dovecot(introspection_url: str | None = None) -> Dovecot:
    """A running Dovecot in a fresh temp dir that /tmp users other than root can enter;
    with an introspection URL it also takes OAuth2 tokens (an oauth2 passdb)."""
    root = Path(tempfile.mkdtemp(prefix="maildesk-dovecot-"))
    server = Dovecot(root, introspection_url=introspection_url)
    server.write_config()
    server.start()
    return server
