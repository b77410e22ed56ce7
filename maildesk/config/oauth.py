"""The OAuth2 keys of [[imap]] and [relay]: `auth = "oauth2"` and the provider's settings.

Microsoft 365 and Google Workspace no longer take passwords for IMAP and SMTP, so an
account may log in with SASL XOAUTH2 or OAUTHBEARER (RFC 7628) instead. Secrets stay
out of maildesk.toml (client_secret_file, certificate_file); tokens live in the storage
dir, one file per account (see maildesk/auth/store.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from maildesk.config.reader import Reader

AUTH_METHODS = ("password", "oauth2")
PROVIDERS = ("microsoft", "google", "generic")
FLOWS = ("device", "browser", "client_credentials")
SASL = ("auto", "xoauth2", "oauthbearer")
OAUTH_KEYS = {"auth", "provider", "flow", "tenant", "client_id", "client_secret_file",
              "certificate_file", "certificate_thumbprint", "token_endpoint",
              "authorization_endpoint", "device_authorization_endpoint", "scopes", "sasl"}

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_DELEGATED_SCOPES = ("https://outlook.office365.com/IMAP.AccessAsUser.All",
                              "https://outlook.office365.com/SMTP.Send")
MICROSOFT_APP_SCOPES = ("https://outlook.office365.com/.default",)
GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPES = ("https://mail.google.com/",)
DEFAULT_FLOW = {"microsoft": "device", "google": "browser", "generic": "browser"}
PROVIDER_FLOWS = {"microsoft": ("device", "client_credentials"), "google": ("browser",),
                  "generic": FLOWS}


@dataclass(frozen=True, slots=True)
class OAuth2Config:
    """How one account gets its access tokens, and where they are kept."""

    provider: str  # microsoft, google or generic
    flow: str  # device, browser (authorization code on a loopback redirect) or client_credentials
    client_id: str
    scopes: tuple[str, ...]
    token_file: Path  # in the storage dir, mode 0600
    tenant: str = "organizations"  # Microsoft: the directory (tenant) id or domain
    client_secret_file: Path | None = None
    certificate_file: Path | None = None  # Microsoft: PEM with the private key
    certificate_thumbprint: str | None = None
    token_endpoint: str = ""
    authorization_endpoint: str = ""
    device_authorization_endpoint: str = ""
    sasl: str = "auto"  # IMAP: OAUTHBEARER when offered, else XOAUTH2

    @property
    def authority(self) -> str:
        return f"{MICROSOFT_LOGIN}/{self.tenant}"

    def client_secret(self) -> str | None:
        if self.client_secret_file is None:
            return None
        return self.client_secret_file.read_text(encoding="utf-8").strip()


def read_auth(r: Reader) -> str:
    """The `auth` key: password (the default) or oauth2."""
    auth = r.get("auth", str, "password")
    if auth not in AUTH_METHODS:
        r.fail("auth", f"must be one of {', '.join(AUTH_METHODS)}")
        return "password"
    return auth


def read_oauth(r: Reader, base: Path, token_file: Path) -> OAuth2Config | None:
    """The provider settings of an account whose auth is oauth2; None after a problem."""
    provider = _choice(r, "provider", PROVIDERS, "")
    if not provider:
        return None
    flow = _choice(r, "flow", PROVIDER_FLOWS[provider], DEFAULT_FLOW[provider])
    client_id = r.get("client_id", str, "")
    if not client_id:
        r.fail("client_id", "is required with auth = \"oauth2\"")
    secret, cert = _path(r, base, "client_secret_file"), _path(r, base, "certificate_file")
    thumbprint = r.get("certificate_thumbprint", str, None)
    if cert is not None and not thumbprint:
        r.fail("certificate_thumbprint", "is required with certificate_file")
    if flow == "client_credentials" and secret is None and cert is None:
        r.fail("flow", "client_credentials needs client_secret_file or certificate_file")
    endpoints = _endpoints(r, provider, flow)
    scopes, sasl = _scopes(r, provider, flow), _choice(r, "sasl", SASL, "auto")
    if not (client_id and flow and endpoints is not None and scopes and sasl):
        return None
    return OAuth2Config(
        provider=provider, flow=flow, client_id=client_id, scopes=scopes,
        token_file=token_file, tenant=r.get("tenant", str, "organizations"),
        client_secret_file=secret, certificate_file=cert, certificate_thumbprint=thumbprint,
        token_endpoint=endpoints[0], authorization_endpoint=endpoints[1],
        device_authorization_endpoint=endpoints[2], sasl=sasl)


def _choice(r: Reader, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = r.get(key, str, default)
    if value not in allowed:
        r.fail(key, f"must be one of {', '.join(allowed)}" if value else "is required "
               f"with auth = \"oauth2\": one of {', '.join(allowed)}")
        return ""
    return value


def _path(r: Reader, base: Path, key: str) -> Path | None:
    value = r.get(key, str, None)
    return base / value if value else None


def _endpoints(r: Reader, provider: str, flow: str) -> tuple[str, str, str] | None:
    token = r.get("token_endpoint", str, "")
    authorize = r.get("authorization_endpoint", str, "")
    device = r.get("device_authorization_endpoint", str, "")
    if provider == "google":
        return token or GOOGLE_TOKEN, authorize or GOOGLE_AUTHORIZE, device
    if provider == "microsoft":
        return token, authorize, device  # MSAL finds them from the tenant
    needed = {"token_endpoint": token,
              "authorization_endpoint": authorize if flow == "browser" else "x",
              "device_authorization_endpoint": device if flow == "device" else "x"}
    missing = [key for key, value in needed.items() if not value]
    for key in missing:
        r.fail(key, f"is required with provider = \"generic\" and flow = \"{flow}\"")
    return None if missing else (token, authorize, device)


def _scopes(r: Reader, provider: str, flow: str) -> tuple[str, ...]:
    default: tuple[str, ...] = ()
    if provider == "microsoft":
        default = MICROSOFT_APP_SCOPES if flow == "client_credentials" else MICROSOFT_DELEGATED_SCOPES
    elif provider == "google":
        default = GOOGLE_SCOPES
    scopes = r.get("scopes", list, list(default))
    if not scopes or not all(isinstance(s, str) and s for s in scopes):
        r.fail("scopes", "must be a non-empty list of scope strings")
        return ()
    return tuple(scopes)
