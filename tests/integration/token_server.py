"""A small OAuth2 server of the tests' own, on loopback (aiohttp in a thread).

Endpoints: /token (refresh_token, client_credentials, device_code and authorization_code
grants), /device (RFC 8628 device authorization), /authorize (redirects straight back
with a code, as if the user had agreed), and /introspect (RFC 7662, what Dovecot's
oauth2 passdb asks). Tokens are random strings; access tokens live `lifetime` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

CLIENT_ID, CLIENT_SECRET = "maildesk-test", "test-client-secret"


@dataclass
class TokenServer:
    user: str = "desk"
    lifetime: float = 3600.0
    port: int = 0
    access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> user, exp
    refresh: dict[str, str] = field(default_factory=dict)  # token -> user
    devices: dict[str, dict] = field(default_factory=dict)  # device_code -> state
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> PKCE challenge
    grants: Counter = field(default_factory=Counter)
    introspected: list[bool] = field(default_factory=list)  # the answers given

    # -- what tests do -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue(self) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as a login would give."""
        refresh = secrets.token_urlsafe(16)
        self.refresh[refresh] = self.user
        return self._access(), refresh

    def approve(self, user_code: str) -> bool:
        for device in self.devices.values():
            if device["user_code"] == user_code:
                device["approved"] = True
                return True
        return False

    def revoke_refresh_tokens(self) -> None:
        self.refresh.clear()

    def expire_access_tokens(self) -> None:
        self.access = {t: (u, 0.0) for t, (u, _) in self.access.items()}

    def valid(self, token: str) -> bool:
        user, exp = self.access.get(token, ("", 0.0))
        return bool(user) and time.time() < exp

    # -- HTTP ---------------------------------------------------------------------

    def _access(self) -> str:
        token = secrets.token_urlsafe(24)
        self.access[token] = (self.user, time.time() + self.lifetime)
        return token

    def _tokens(self, refresh: str | None = None) -> web.Response:
        body = {"access_token": self._access(), "token_type": "Bearer",
                "expires_in": max(int(self.lifetime), 1), "scope": "mail"}
        if refresh:
            body["refresh_token"] = refresh
        return web.json_response(body)

    @staticmethod
    def _error(code: str, status: int = 400) -> web.Response:
        return web.json_response({"error": code, "error_description": f"test server: {code}"},
                                 status=status)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = str(form.get("grant_type"))
        self.grants[grant] += 1
        if form.get("client_id") != CLIENT_ID:
            return self._error("invalid_client", 401)
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh:
                return self._error("invalid_grant")
            return self._tokens(str(form["refresh_token"]))
        if grant == "client_credentials":
            if form.get("client_secret") != CLIENT_SECRET:
                return self._error("invalid_client", 401)
            return self._tokens()
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            device = self.devices.get(str(form.get("device_code")))
            if device is None:
                return self._error("expired_token")
            if not device["approved"]:
                return self._error("authorization_pending")
            del self.devices[str(form["device_code"])]
            return self._tokens(self.issue()[1])
        if grant == "authorization_code" and form.get("code") in self.codes:
            challenge = self.codes.pop(str(form["code"]))
            digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                return self._error("invalid_grant")  # RFC 7636 4.6
            return self._tokens(self.issue()[1])
        return self._error("unsupported_grant_type")

    async def device(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID:
            return self._error("invalid_client", 401)
        code, user_code = secrets.token_urlsafe(16), secrets.token_hex(4).upper()
        self.devices[code] = {"user_code": user_code, "approved": False}
        return web.json_response({"device_code": code, "user_code": user_code,
                                  "verification_uri": f"{self.url}/verify",
                                  "expires_in": 600, "interval": 1})

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        code = secrets.token_urlsafe(12)
        self.codes[code] = q.get("code_challenge", "")
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        raise web.HTTPFound(target)

    async def introspect(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token", ""))
        active = self.valid(token)
        self.introspected.append(active)
        if not active:
            return web.json_response({"active": False})
        user, exp = self.access[token]
        return web.json_response({"active": True, "username": user, "exp": int(exp),
                                  "client_id": CLIENT_ID, "scope": "mail"})

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> TokenServer:
        app = web.Application()
        app.add_routes([web.post("/token", self.token), web.post("/device", self.device),
                        web.get("/authorize", self.authorize),
                        web.post("/introspect", self.introspect)])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = web.AppRunner(app, access_log=None)
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        return self

    async def _serve(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
