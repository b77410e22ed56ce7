"""Token endpoints over HTTP: MSAL for Microsoft, Authlib for Google and generic servers.

MSAL is Microsoft's own library: it knows the tenant's endpoints, signs client
assertions with a certificate, and keeps its token cache, which the desk stores
(serialized) in the account's token file. MSAL only talks to HTTPS authorities with a
path (`https://login.microsoftonline.com/TENANT`), so loopback tests exercise the same
device-code, refresh and client-credentials logic through GenericProvider, whose
endpoints are configurable. Authlib's OAuth2Session does RFC 6749 grants and PKCE
(RFC 7636); the device flow (RFC 8628) is two plain POSTs through the same session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from maildesk.auth.state import Failure, Grant, TokenState, classify
from maildesk.config.oauth import OAuth2Config

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 30.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class OAuthFailure(Exception):
    """A token request that did not give a token; `failure` says what can help."""

    def __init__(self, code: str | None, description: str | None = None) -> None:
        self.code = code or "error"
        self.failure = classify(code) if code else Failure.TEMPORARY
        super().__init__(f"{self.code}: {description}" if description else self.code)


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """RFC 8628 3.2: what the admin must see, and what the poller sends back."""

    user_code: str
    verification_uri: str
    expires_in: int
    interval: int
    device_code: str = ""
    message: str = ""
    raw: Any = None  # MSAL's own flow dict


class Provider(Protocol):
    def refresh(self, state: TokenState) -> Grant: ...
    def start_device(self) -> DeviceCode: ...
    def poll_device(self, device: DeviceCode) -> Grant: ...
    def authorization_url(self, redirect_uri: str, state: str, verifier: str) -> str: ...
    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> Grant: ...


def provider_for(config: OAuth2Config) -> Provider:
    if config.provider == "microsoft":
        return MicrosoftProvider(config)
    return GenericProvider(config)


def grant_from(token: dict[str, Any], cache: str | None = None) -> Grant:
    """A token response (RFC 6749 5.1) -> Grant; an `error` member raises OAuthFailure."""
    if "error" in token or "access_token" not in token:
        raise OAuthFailure(token.get("error"), token.get("error_description"))
    scope = token.get("scope") or ""
    scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
    return Grant(access_token=str(token["access_token"]),
                 expires_in=int(token.get("expires_in") or 3600),
                 refresh_token=token.get("refresh_token"), scopes=scopes, cache=cache)


class GenericProvider:
    """Any RFC 6749 server with configured endpoints; Google is one with known endpoints."""

    def __init__(self, config: OAuth2Config) -> None:
        self.config = config

    def _session(self) -> Any:
        from authlib.integrations.requests_client import OAuth2Session

        secret = self.config.client_secret()
        return OAuth2Session(
            self.config.client_id, secret, scope=" ".join(self.config.scopes),
            token_endpoint_auth_method="client_secret_post" if secret else "none",
            code_challenge_method="S256")

    def _token(self, **params: Any) -> Grant:
        from authlib.integrations.requests_client import OAuthError

        try:
            with self._session() as session:
                token = session.fetch_token(self.config.token_endpoint, timeout=HTTP_TIMEOUT,
                                            **params)
        except OAuthError as exc:
            raise OAuthFailure(exc.error, exc.description) from exc
        return grant_from(dict(token))

    def refresh(self, state: TokenState) -> Grant:
        if self.config.flow == "client_credentials":
            return self._token(grant_type="client_credentials")
        if not state.refresh_token:
            raise OAuthFailure("invalid_grant", "no refresh token: log in first")
        return self._token(grant_type="refresh_token", refresh_token=state.refresh_token)

    def start_device(self) -> DeviceCode:
        with self._session() as session:
            response = session.post(self.config.device_authorization_endpoint,
                                    timeout=HTTP_TIMEOUT, withhold_token=True,
                                    data={"client_id": self.config.client_id,
                                          "scope": " ".join(self.config.scopes)})
        body = response.json()
        if "device_code" not in body:
            raise OAuthFailure(body.get("error"), body.get("error_description"))
        return DeviceCode(
            user_code=body["user_code"], device_code=body["device_code"],
            verification_uri=body.get("verification_uri_complete") or body["verification_uri"],
            expires_in=int(body.get("expires_in", 900)), interval=int(body.get("interval", 5)))

    def poll_device(self, device: DeviceCode) -> Grant:
        return self._token(grant_type=DEVICE_GRANT, device_code=device.device_code)

    def authorization_url(self, redirect_uri: str, state: str, verifier: str) -> str:
        extra = ({"access_type": "offline", "prompt": "consent"}  # Google: a refresh token
                 if self.config.provider == "google" else {})
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.config.authorization_endpoint, state=state, code_verifier=verifier,
                redirect_uri=redirect_uri, **extra)
        return str(url)

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> Grant:
        return self._token(grant_type="authorization_code", code=code,
                           redirect_uri=redirect_uri, code_verifier=verifier)


class MicrosoftProvider:
    """Microsoft identity platform through MSAL: device code, refresh from MSAL's own
    token cache, and client credentials with a secret or a certificate (app-only)."""

    def __init__(self, config: OAuth2Config) -> None:
        self.config = config
        self._app: Any = None
        self._cache: Any = None

    def _application(self, cache_text: str | None) -> Any:
        import msal

        self._cache = msal.SerializableTokenCache()
        if cache_text:
            self._cache.deserialize(cache_text)
        if self.config.flow == "client_credentials":
            return msal.ConfidentialClientApplication(
                self.config.client_id, client_credential=self._credential(),
                authority=self.config.authority, token_cache=self._cache, timeout=HTTP_TIMEOUT)
        return msal.PublicClientApplication(self.config.client_id,
                                            authority=self.config.authority,
                                            token_cache=self._cache, timeout=HTTP_TIMEOUT)

    def _credential(self) -> Any:
        if self.config.certificate_file is not None:
            return {"private_key": self.config.certificate_file.read_text(encoding="utf-8"),
                    "thumbprint": self.config.certificate_thumbprint}
        return self.config.client_secret()

    def _grant(self, result: dict[str, Any] | None) -> Grant:
        if result is None:
            raise OAuthFailure("invalid_grant", "no signed-in account in the token cache")
        return grant_from(result, self._cache.serialize())

    def refresh(self, state: TokenState) -> Grant:
        app = self._application(state.cache)
        if self.config.flow == "client_credentials":
            return self._grant(app.acquire_token_for_client(scopes=list(self.config.scopes)))
        accounts = app.get_accounts()
        if not accounts:
            raise OAuthFailure("invalid_grant", "no signed-in account in the token cache")
        return self._grant(app.acquire_token_silent_with_error(
            list(self.config.scopes), account=accounts[0], force_refresh=True))

    def start_device(self) -> DeviceCode:
        self._app = self._application(None)
        flow = self._app.initiate_device_flow(scopes=list(self.config.scopes))
        if "user_code" not in flow:
            raise OAuthFailure(flow.get("error"), flow.get("error_description"))
        return DeviceCode(user_code=flow["user_code"], verification_uri=flow["verification_uri"],
                          expires_in=int(flow.get("expires_in", 900)),
                          interval=int(flow.get("interval", 5)), message=flow.get("message", ""),
                          raw=flow)

    def poll_device(self, device: DeviceCode) -> Grant:
        """MSAL polls by itself until the code is approved, refused or expired."""
        return self._grant(self._app.acquire_token_by_device_flow(device.raw))

    def authorization_url(self, redirect_uri: str, state: str, verifier: str) -> str:
        raise OAuthFailure("unsupported_grant_type", "use flow = \"device\" for Microsoft")

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> Grant:
        raise OAuthFailure("unsupported_grant_type", "use flow = \"device\" for Microsoft")
