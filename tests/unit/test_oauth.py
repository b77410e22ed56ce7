"""OAuth2 for IMAP and the relay: config, token decisions, the token file, the refresher
and the device-code poller, with stand-in providers (the HTTP is in integration tests)."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maildesk.auth import sasl
from maildesk.auth.login import device_login, next_interval
from maildesk.auth.providers import DeviceCode, MicrosoftProvider, OAuthFailure, grant_from
from maildesk.auth.state import (
    Failure,
    Grant,
    TokenState,
    announce,
    classify,
    failed,
    granted,
    needs_login,
    needs_refresh,
)
from maildesk.auth.store import TokenStore
from maildesk.auth.tokens import AccessTokens
from maildesk.config.model import load_config
from maildesk.config.oauth import OAuth2Config
from maildesk.errors import ConfigError, ReauthorizationNeeded, TemporaryFailure
from tests.conftest import write_desk

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GENERIC = """
[[imap]]
name = "support"
host = "imap.example"
username = "support@acme.example"
auth = "oauth2"
provider = "generic"
flow = "device"
client_id = "app"
token_endpoint = "https://id.example/token"
device_authorization_endpoint = "https://id.example/device"
scopes = ["mail"]
sasl = "oauthbearer"
"""


def config(tmp_path: Path, extra: str):  # type: ignore[no-untyped-def]
    return load_config(write_desk(tmp_path / "desk", "sqlite:///x.db", extra))


def problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, extra)
    return str(caught.value)


# -- configuration --------------------------------------------------------------------

def test_imap_oauth2_needs_no_password_and_keeps_tokens_in_storage(tmp_path: Path) -> None:
    account = config(tmp_path, GENERIC).imap[0]
    assert account.oauth is not None and account.password_file is None
    assert account.oauth.flow == "device" and account.oauth.scopes == ("mail",)
    assert account.oauth.sasl == "oauthbearer"
    assert account.oauth.token_file == tmp_path / "desk" / "var" / "oauth" / "imap-support.json"


def test_provider_defaults_for_microsoft_and_google(tmp_path: Path) -> None:
    loaded = config(tmp_path, """
[[imap]]
name = "m365"
host = "outlook.office365.com"
username = "support@acme.example"
auth = "oauth2"
provider = "microsoft"
tenant = "acme.example"
client_id = "00000000-0000-0000-0000-000000000001"

[relay]
host = "smtp.gmail.com"
port = 587
security = "starttls"
username = "support@acme.example"
auth = "oauth2"
provider = "google"
client_id = "x.apps.googleusercontent.com"
client_secret_file = "google-secret"
""")
    m365, google = loaded.imap[0].oauth, loaded.relay.oauth
    assert m365 and m365.flow == "device"
    assert m365.authority == "https://login.microsoftonline.com/acme.example"
    assert "https://outlook.office365.com/IMAP.AccessAsUser.All" in m365.scopes
    assert google and google.flow == "browser" and google.scopes == ("https://mail.google.com/",)
    assert google.token_endpoint == "https://oauth2.googleapis.com/token"
    assert google.token_file.name == "relay.json"


def test_app_only_microsoft_uses_the_default_scope(tmp_path: Path) -> None:
    relay = config(tmp_path, """
[relay]
username = "support@acme.example"
auth = "oauth2"
provider = "microsoft"
flow = "client_credentials"
tenant = "acme.example"
client_id = "app"
certificate_file = "app.pem"
certificate_thumbprint = "AB12"
""").relay
    assert relay.oauth and relay.oauth.scopes == ("https://outlook.office365.com/.default",)


def test_config_problems_name_the_line_and_key(tmp_path: Path) -> None:
    text = problems(tmp_path, GENERIC.replace('client_id = "app"\n', "")
                    .replace('sasl = "oauthbearer"', 'sasl = "cram-md5"'))
    assert "imap.client_id: is required" in text
    assert "maildesk.toml:25: imap.sasl: must be one of auto, xoauth2, oauthbearer" in text
    text = problems(tmp_path, '[relay]\nauth = "oauth2"\nprovider = "google"\nclient_id = "x"\n')
    assert "relay.username: is required" in text
    text = problems(tmp_path, '[relay]\nusername = "a@b"\nauth = "kerberos"\n')
    assert "relay.auth: must be one of password, oauth2" in text
    text = problems(tmp_path, GENERIC.replace('flow = "device"', 'flow = "browser"'))
    assert "imap.authorization_endpoint: is required" in text
    text = problems(tmp_path, GENERIC.replace('provider = "generic"', 'provider = "google"')
                    .replace('flow = "device"', 'flow = "client_credentials"'))
    assert "imap.flow: must be one of browser" in text


# -- decisions ------------------------------------------------------------------------

def state(life: int = 3600, at: datetime = T0, refresh: str | None = "r1") -> TokenState:
    return granted(TokenState(), Grant("a1", life, refresh, ("mail",)), at)


def test_refresh_five_minutes_ahead_or_a_fifth_of_a_short_life() -> None:
    long = state(3600)
    assert not needs_refresh(long, T0 + timedelta(minutes=54))
    assert needs_refresh(long, T0 + timedelta(minutes=55))
    short = state(10)
    assert not needs_refresh(short, T0 + timedelta(seconds=7))
    assert needs_refresh(short, T0 + timedelta(seconds=8))
    assert needs_refresh(TokenState(), T0)


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    after = granted(state(), Grant("a2", 60), T0 + timedelta(hours=1))
    assert after.refresh_token == "r1" and after.access_token == "a2"
    assert after.scopes == ("mail",) and after.failure is None


def test_revoked_grant_needs_login_and_is_announced_once() -> None:
    assert classify("invalid_grant") is Failure.REVOKED
    assert classify("invalid_client") is Failure.CLIENT
    assert classify("temporarily_unavailable") is Failure.TEMPORARY
    before = state()
    revoked = failed(before, Failure.REVOKED, "invalid_grant: revoked")
    assert revoked.access_token is None and needs_login(revoked)
    assert announce(before, revoked)
    assert not announce(revoked, failed(revoked, Failure.REVOKED, "invalid_grant: revoked"))
    public = revoked.public(T0)
    assert public["needs_login"] and not public["valid"]
    assert "a1" not in repr(public) and "r1" not in repr(public)


def test_mechanism_prefers_oauthbearer_when_offered() -> None:
    assert sasl.choose([b"IMAP4REV1", b"AUTH=XOAUTH2"]) is sasl.Mechanism.XOAUTH2
    assert sasl.choose([b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER"]) is sasl.Mechanism.OAUTHBEARER
    assert sasl.choose([b"AUTH=OAUTHBEARER"], "xoauth2") is sasl.Mechanism.XOAUTH2


def test_imap_session_ends_at_the_refresh_moment_or_waits_after_a_failed_refresh() -> None:
    from maildesk.intake.imap import session_length

    assert session_length(240.0, 60) == 240.0
    assert session_length(0.2, 60) == 1.0
    assert session_length(-5.0, 60) == 30.0 and session_length(-5.0, 10) == 10


def test_grant_from_a_token_response() -> None:
    grant = grant_from({"access_token": "a", "expires_in": 60, "scope": "x y",
                        "refresh_token": "r"})
    assert grant == Grant("a", 60, "r", ("x", "y"))
    with pytest.raises(OAuthFailure) as caught:
        grant_from({"error": "invalid_grant", "error_description": "AADSTS70008: expired"})
    assert caught.value.failure is Failure.REVOKED and "AADSTS70008" in str(caught.value)


# -- the token file -------------------------------------------------------------------

def test_token_file_is_private_and_round_trips(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "oauth" / "relay.json")
    assert store.load() == TokenState()
    saved = failed(state(), Failure.TEMPORARY, "boom")
    with store.locked():
        store.save(saved)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == saved
    assert store.forget() and not store.forget() and store.load() == TokenState()


# -- the refresher --------------------------------------------------------------------

class FakeProvider:
    def __init__(self, *answers: Grant | OAuthFailure | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def refresh(self, state: TokenState) -> Grant:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def start_device(self) -> DeviceCode:
        return DeviceCode("ABCD", "https://id.example/verify", 600, 2, "dev")

    def poll_device(self, device: DeviceCode) -> Grant:
        return self.refresh(TokenState())


def oauth(tmp_path: Path, flow: str = "device") -> OAuth2Config:
    return OAuth2Config(provider="generic", flow=flow, client_id="app", scopes=("mail",),
                        token_file=tmp_path / "oauth" / "imap-support.json",
                        token_endpoint="https://id.example/token")


def tokens(tmp_path: Path, provider: FakeProvider, now: datetime,
           saved: TokenState | None = None) -> AccessTokens:
    refresher = AccessTokens("support", oauth(tmp_path), provider=provider, clock=lambda: now)
    if saved is not None:
        refresher.store.save(saved)
    return refresher


def test_valid_token_is_used_and_a_due_one_refreshed(tmp_path: Path) -> None:
    provider = FakeProvider(Grant("a2", 3600))
    assert tokens(tmp_path, provider, T0, state()).get() == "a1" and provider.calls == 0
    later = tokens(tmp_path, provider, T0 + timedelta(minutes=58))
    assert later.get() == "a2" and provider.calls == 1
    assert later.store.load().refresh_token == "r1"


def test_forced_refresh_after_the_server_refused_the_token(tmp_path: Path) -> None:
    provider = FakeProvider(Grant("a2", 3600))
    assert tokens(tmp_path, provider, T0, state()).get(force=True) == "a2"


def test_revoked_refresh_token_is_persistent_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    provider = FakeProvider(OAuthFailure("invalid_grant", "revoked"))
    refresher = tokens(tmp_path, provider, T0 + timedelta(hours=2), state())
    caplog.set_level(logging.INFO, "maildesk.auth")
    for _ in range(3):
        with pytest.raises(ReauthorizationNeeded, match="maildesk auth login support"):
            refresher.get()
    assert provider.calls == 1
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert "a1" not in caplog.text and "r1" not in caplog.text
    assert needs_login(refresher.store.load())


def test_temporary_failure_keeps_a_still_valid_token(tmp_path: Path) -> None:
    provider = FakeProvider(ConnectionError("down"), ConnectionError("down"))
    refresher = tokens(tmp_path, provider, T0 + timedelta(minutes=58), state())
    assert refresher.get() == "a1"
    assert refresher.store.load().last_error == "ConnectionError: down"
    expired = tokens(tmp_path, provider, T0 + timedelta(hours=2))
    with pytest.raises(TemporaryFailure) as caught:
        expired.get()
    assert not isinstance(caught.value, ReauthorizationNeeded)


def test_never_logged_in_asks_for_login_without_calling_the_server(tmp_path: Path) -> None:
    provider = FakeProvider()
    with pytest.raises(ReauthorizationNeeded):
        tokens(tmp_path, provider, T0).get()
    assert provider.calls == 0


# -- the device-code poller -----------------------------------------------------------

def test_device_polling_waits_longer_after_slow_down() -> None:
    assert next_interval("authorization_pending", 5) == 5
    assert next_interval("slow_down", 5) == 10
    assert next_interval("access_denied", 5) is None
    provider = FakeProvider(OAuthFailure("authorization_pending"), OAuthFailure("slow_down"),
                            Grant("a", 60, "r"))
    shown: list[str] = []
    waits: list[float] = []
    grant = device_login(provider, shown.append, waits.append)
    assert grant.refresh_token == "r" and waits == [2, 7]
    assert "ABCD" in shown[0] and "https://id.example/verify" in shown[0]
    refused = FakeProvider(OAuthFailure("access_denied"))
    with pytest.raises(OAuthFailure):
        device_login(refused, shown.append, waits.append)


# -- Microsoft through MSAL (the library's HTTP replaced by a stand-in) ----------------

class FakeMsalApp:
    made: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, kind: str, client_id: str, **kwargs: Any) -> None:
        FakeMsalApp.made.append((kind, kwargs))
        self.cache = kwargs["token_cache"]

    def get_accounts(self) -> list[dict[str, str]]:
        return [{"username": "agent@acme.example"}]

    def acquire_token_silent_with_error(self, scopes: list[str], account: Any,
                                        force_refresh: bool) -> dict[str, Any]:
        assert force_refresh and account["username"] == "agent@acme.example"
        return {"access_token": "ms-a", "expires_in": 3599, "scope": " ".join(scopes)}

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        return {"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}


def test_microsoft_refresh_and_app_only_through_msal(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import msal

    monkeypatch.setattr(msal, "PublicClientApplication",
                        lambda cid, **kw: FakeMsalApp("public", cid, **kw))
    monkeypatch.setattr(msal, "ConfidentialClientApplication",
                        lambda cid, **kw: FakeMsalApp("confidential", cid, **kw))
    base = OAuth2Config(provider="microsoft", flow="device", client_id="app",
                        scopes=("https://outlook.office365.com/IMAP.AccessAsUser.All",),
                        token_file=tmp_path / "t.json", tenant="acme.example")
    grant = MicrosoftProvider(base).refresh(state())
    assert grant.access_token == "ms-a" and grant.cache is not None
    assert FakeMsalApp.made[-1][0] == "public"
    assert FakeMsalApp.made[-1][1]["authority"] == "https://login.microsoftonline.com/acme.example"
    (tmp_path / "app.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    app_only = OAuth2Config(provider="microsoft", flow="client_credentials", client_id="app",
                            scopes=("https://outlook.office365.com/.default",),
                            token_file=tmp_path / "t.json", tenant="acme.example",
                            certificate_file=tmp_path / "app.pem",
                            certificate_thumbprint="AB12")
    with pytest.raises(OAuthFailure) as caught:
        MicrosoftProvider(app_only).refresh(TokenState())
    assert caught.value.failure is Failure.CLIENT
    kind, kwargs = FakeMsalApp.made[-1]
    assert kind == "confidential" and kwargs["client_credential"]["thumbprint"] == "AB12"


def test_outbox_waits_for_a_token_without_a_burst_of_retries() -> None:
    from maildesk.outbox.send import _burst_worthy, _temporary

    missing = ReauthorizationNeeded("oauth2 relay: invalid_grant")
    assert _temporary(missing) and not _burst_worthy(missing)
    assert _burst_worthy(ConnectionResetError())
