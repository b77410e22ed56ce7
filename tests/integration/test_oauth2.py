"""OAuth2 end to end on loopback: the tests' token server, Dovecot with an oauth2 passdb
that introspects tokens there, an aiosmtpd relay that takes only valid XOAUTH2 tokens,
and `maildesk auth login` in device-code mode. Nothing reaches Microsoft or Google."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from daemon_helpers import REPO, counts, mail, make_desk, wait_until
from dovecot import DOVECOT, PASSWORD, USER, Dovecot, free_port, start_dovecot
from imapclient import IMAPClient
from prometheus_client import generate_latest
from token_server import CLIENT_ID, CLIENT_SECRET, TokenServer

from maildesk.auth.accounts import states
from maildesk.auth.state import Grant, TokenState, granted
from maildesk.auth.store import TokenStore
from maildesk.config.model import Config, OutboxConfig, load_config
from maildesk.errors import ReauthorizationNeeded
from maildesk.intake.imap import Poller, fetch_once
from maildesk.intake.receiver import Receiver
from maildesk.outbox.send import Outcome, Parcel, deliver_sync
from maildesk.runtime.desk import Desk, open_desk
from maildesk.runtime.metrics import Metrics
from tests.conftest import SinkRecorder

pytestmark = [pytest.mark.dovecot,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
              pytest.mark.skipif(not Path(DOVECOT).exists(), reason="no dovecot binary")]


@pytest.fixture
def tokens() -> Iterator[TokenServer]:
    server = TokenServer(user=USER).start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(tokens: TokenServer) -> Iterator[Dovecot]:
    server = start_dovecot(f"{tokens.url}/introspect")
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def oauth_keys(tokens: TokenServer, flow: str = "device") -> str:
    return (f'auth = "oauth2"\nprovider = "generic"\nflow = "{flow}"\n'
            f'client_id = "{CLIENT_ID}"\ntoken_endpoint = "{tokens.url}/token"\n'
            f'device_authorization_endpoint = "{tokens.url}/device"\nscopes = ["mail"]\n')


def imap_toml(server: Dovecot, tokens: TokenServer, extra: str = "") -> str:
    return (f'[[imap]]\nname = "support"\nhost = "127.0.0.1"\nport = {server.port}\n'
            f'security = "none"\nusername = "{USER}"\nreconnect_max = 0.5\n'
            f"{oauth_keys(tokens)}{extra}")


@pytest.fixture
def make(tmp_path: Path, db_url: str, dovecot: Dovecot,
         tokens: TokenServer) -> Iterator[Callable[..., Desk]]:
    opened: list[Desk] = []

    def build(extra: str = "") -> Desk:
        desk = open_desk(load_config(make_desk(tmp_path / "desk", db_url,
                                               imap_toml(dovecot, tokens, extra))))
        opened.append(desk)
        return desk

    yield build
    for desk in opened:
        desk.close()


def seed(config: Config, name: str, tokens: TokenServer, *, expired: bool = False) -> str:
    """Store tokens as a finished login would; returns the access token."""
    access, refresh = tokens.issue()
    oauth = config.relay.oauth if name == "relay" else config.imap[0].oauth
    assert oauth is not None
    now = datetime.now(UTC) - (timedelta(hours=2) if expired else timedelta(0))
    TokenStore(oauth.token_file).save(
        granted(TokenState(), Grant(access, int(tokens.lifetime), refresh, ("mail",)), now))
    return access


def append(server: Dovecot, *messages: bytes) -> None:
    imap = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    imap.login(USER, PASSWORD)
    for data in messages:
        imap.append("INBOX", data)
    imap.logout()


def logins(server: Dovecot, method: str) -> int:
    return server.log().count(f"method={method}")


# -- IMAP ---------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_pull_with_each_mechanism(make, dovecot, tokens, db_url, mechanism) -> None:  # type: ignore[no-untyped-def]
    desk = make(f'sasl = "{mechanism}"\n')
    seed(desk.config, "support", tokens)
    append(dovecot, mail(1), mail(2))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 2
    assert counts(db_url) == (2, 2)
    assert logins(dovecot, mechanism.upper()) == 1 and tokens.grants["refresh_token"] == 0


def test_expired_token_is_refreshed_and_a_refused_one_once_more(make, dovecot, tokens,
                                                                db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    seed(desk.config, "support", tokens, expired=True)
    append(dovecot, mail(1))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 1
    assert tokens.grants["refresh_token"] == 1
    tokens.expire_access_tokens()  # revoked at the server while ours looks valid
    append(dovecot, mail(2))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 1
    assert tokens.grants["refresh_token"] == 2 and tokens.introspected[-2:] == [False, True]
    assert counts(db_url) == (2, 2)


def test_idle_session_logs_in_again_when_its_token_expires(make, dovecot, tokens,
                                                          db_url) -> None:  # type: ignore[no-untyped-def]
    tokens.lifetime = 3
    desk = make("poll_interval = 30\n")
    seed(desk.config, "support", tokens)
    append(dovecot, mail(1))
    stop = threading.Event()
    poller = threading.Thread(target=Poller(desk.config.imap[0], Receiver(desk)).serve,
                              args=(stop,), daemon=True)
    poller.start()
    try:
        assert wait_until(lambda: counts(db_url) == (1, 1), 15)
        # The first token lapses while the session sits in IDLE; the poller refreshes it
        # and logs in again on its own, and mail keeps coming.
        assert wait_until(lambda: tokens.grants["refresh_token"] >= 2, 20)
        append(dovecot, mail(2))
        assert wait_until(lambda: counts(db_url) == (2, 2), 15)
    finally:
        stop.set()
        poller.join(10)
    assert not poller.is_alive()
    assert logins(dovecot, "OAUTHBEARER") >= 2 and counts(db_url) == (2, 2)  # auto: offered


def test_revoked_refresh_token_is_reported_and_no_mail_is_lost_or_doubled(
        make, dovecot, tokens, db_url, caplog) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    seed(desk.config, "support", tokens)
    append(dovecot, mail(1))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 1
    tokens.revoke_refresh_tokens()
    tokens.expire_access_tokens()
    append(dovecot, mail(2))
    caplog.set_level(logging.INFO, "maildesk")
    for _ in range(3):  # three polls, one log line
        with pytest.raises(ReauthorizationNeeded, match="maildesk auth login support"):
            fetch_once(desk.config.imap[0], Receiver(desk))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "invalid_grant" in errors[0].getMessage()
    assert tokens.grants["refresh_token"] == 1  # not asked again until someone logs in
    [state] = states(desk.config, datetime.now(UTC))
    assert state["needs_login"] and "invalid_grant" in state["last_error"]
    metrics = Metrics()
    metrics.watch_oauth(lambda now: states(desk.config, now))
    assert b'maildesk_oauth_login_needed{account="support"} 1.0' in generate_latest(
        metrics.registry)
    assert counts(db_url) == (1, 1)

    seed(desk.config, "support", tokens)  # an admin ran `maildesk auth login support`
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 1
    assert counts(db_url) == (2, 2)
    assert not states(desk.config, datetime.now(UTC))[0]["needs_login"]


def test_status_shows_a_revoked_login_until_fixed(make, tokens) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    seed(desk.config, "support", tokens, expired=True)
    tokens.revoke_refresh_tokens()
    with pytest.raises(ReauthorizationNeeded):
        fetch_once(desk.config.imap[0], Receiver(desk))
    shown = run_maildesk(desk.config.path, "status")
    assert "oauth2 support (generic): LOGIN NEEDED" in shown.stdout
    assert "invalid_grant" in shown.stdout
    report = json.loads(run_maildesk(desk.config.path, "status", "--json").stdout)
    assert report["oauth"][0]["needs_login"] is True
    assert run_maildesk(desk.config.path, "auth", "status").returncode == 1
    fetched = run_maildesk(desk.config.path, "fetch")  # cron mode: that account failed
    assert fetched.returncode == 1 and "maildesk auth login support" in fetched.stderr


# -- the relay -------------------------------------------------------------------------

class OAuthRelay(SinkRecorder):
    """Accepts AUTH XOAUTH2 only with a token the token server says is valid."""

    def __init__(self, tokens: TokenServer) -> None:
        super().__init__()
        self.tokens, self.refused = tokens, 0

    async def auth_XOAUTH2(self, server, args) -> AuthResult:  # noqa: ANN001, N802
        fields = dict(part.split("=", 1) for part in
                      base64.b64decode(args[1]).decode().split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        if fields.get("user") == "support@acme.example" and self.tokens.valid(token):
            return AuthResult(success=True)
        self.refused += 1
        return AuthResult(success=False, handled=False)


@pytest.fixture
def relay(tokens: TokenServer) -> Iterator[tuple[int, OAuthRelay]]:
    port, recorder = free_port(), OAuthRelay(tokens)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    yield port, recorder
    controller.stop()


def relay_toml(port: int, tokens: TokenServer, flow: str = "device") -> str:
    return (f'\n[relay]\nhost = "127.0.0.1"\nport = {port}\nretry_for = "1h"\n'
            f'username = "support@acme.example"\n{oauth_keys(tokens, flow)}')


def test_acknowledgements_go_out_through_an_xoauth2_relay(tmp_path, db_url, tokens,
                                                         relay) -> None:  # type: ignore[no-untyped-def]
    port, sink = relay
    path = make_desk(tmp_path / "desk", db_url, relay_toml(port, tokens))
    seed(load_config(path), "relay", tokens, expired=True)
    customer = mail(7, to="support@acme.example")
    assert run_maildesk(path, "ingest", stdin=customer.decode()).returncode == 0
    flushed = run_maildesk(path, "outbox", "flush")
    assert flushed.stdout.startswith("sent 1"), flushed.stdout + flushed.stderr
    assert [e.rcpt_tos for e in sink.received] == [["c7@customer.example"]]
    assert tokens.grants["refresh_token"] == 1 and sink.refused == 0


SQLITE = "sqlite:///maildesk.db"  # delivery alone: the database is not what is tested


def parcel(n: int) -> Parcel:
    return Parcel(n, None, f"<p{n}@acme.example>", "support@acme.example",
                  ("c@customer.example",), mail(n), 1, datetime.now(UTC))


def test_a_refused_relay_token_is_refreshed_and_the_mail_sent_once(tmp_path, tokens,
                                                                   relay) -> None:  # type: ignore[no-untyped-def]
    port, sink = relay
    config = load_config(make_desk(tmp_path / "desk", SQLITE, relay_toml(port, tokens)))
    seed(config, "relay", tokens)
    tokens.expire_access_tokens()  # our copy still looks valid: the relay answers 535
    delivery = deliver_sync(parcel(1), config.relay)
    assert delivery.outcome is Outcome.SENT, delivery
    assert sink.refused == 1 and len(sink.received) == 1
    assert tokens.grants["refresh_token"] == 1


def test_app_only_relay_uses_client_credentials(tmp_path, tokens, relay) -> None:  # type: ignore[no-untyped-def]
    port, sink = relay
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "client-secret").write_text(CLIENT_SECRET + "\n")
    toml = relay_toml(port, tokens, "client_credentials") + 'client_secret_file = "client-secret"\n'
    config = load_config(make_desk(tmp_path / "desk", SQLITE, toml))
    assert deliver_sync(parcel(2), config.relay).outcome is Outcome.SENT
    assert tokens.grants["client_credentials"] == 1 and len(sink.received) == 1


def test_revoked_relay_login_keeps_mail_queued(tmp_path, tokens, relay) -> None:  # type: ignore[no-untyped-def]
    port, sink = relay
    config = load_config(make_desk(tmp_path / "desk", SQLITE, relay_toml(port, tokens)))
    seed(config, "relay", tokens, expired=True)
    tokens.revoke_refresh_tokens()
    delivery = deliver_sync(parcel(3), config.relay, OutboxConfig(burst_attempts=3))
    assert delivery.outcome is Outcome.RETRY and "maildesk auth login relay" in delivery.text
    assert sink.received == [] and tokens.grants["refresh_token"] == 1


# -- maildesk auth login ----------------------------------------------------------------

def run_maildesk(config: Path, *args: str, stdin: str | None = None
                 ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "maildesk", "-c", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60, input=stdin)


def test_auth_login_with_a_device_code(make, tokens, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    login = subprocess.Popen([sys.executable, "-m", "maildesk", "-c", str(desk.config.path),
                              "auth", "login", "support"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        prompt = login.stdout.readline()  # type: ignore[union-attr]
        assert f"{tokens.url}/verify" in prompt, prompt + login.stderr.read()  # type: ignore[union-attr]
        code = prompt.split("enter the code ")[1].split()[0]
        assert tokens.approve(code)
        out, err = login.communicate(timeout=30)
    finally:
        login.kill()
    assert login.returncode == 0, err
    assert "support: logged in" in out
    token_file = desk.config.imap[0].oauth.token_file
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = TokenStore(token_file).load()
    assert saved.refresh_token and tokens.grants["urn:ietf:params:oauth:grant-type:device_code"] >= 1
    shown = run_maildesk(desk.config.path, "auth", "status", "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)[0]["valid"] is True
    for secret in (saved.access_token, saved.refresh_token):
        assert secret not in shown.stdout + out + err
    append(dovecot, mail(1))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 1
    assert run_maildesk(desk.config.path, "auth", "logout", "support").returncode == 0
    assert not token_file.exists()


def test_browser_login_with_a_loopback_redirect_and_pkce(tmp_path, tokens) -> None:  # type: ignore[no-untyped-def]
    import requests

    from maildesk.auth.login import browser_login
    from maildesk.auth.providers import provider_for

    toml = relay_toml(free_port(), tokens, "browser") + (
        f'authorization_endpoint = "{tokens.url}/authorize"\n')
    oauth = load_config(make_desk(tmp_path / "desk", SQLITE, toml)).relay.oauth
    shown: list[str] = []

    def browser(url: str) -> None:  # the "user" follows the link and agrees at once
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10},
                         daemon=True).start()

    grant = browser_login(provider_for(oauth), shown.append, browser)
    assert grant.refresh_token in tokens.refresh
    assert "code_challenge_method=S256" in shown[0] and tokens.grants["authorization_code"] == 1
