"""The first, interactive login of `maildesk auth login`: device code, browser, or app.

- device (RFC 8628): show the URL and the code, then poll the token endpoint at the
  interval the server asked for (more slowly after `slow_down`) until someone approves.
- browser (RFC 8252 loopback redirect, PKCE RFC 7636): listen on 127.0.0.1, show the
  authorization URL, take the code from the redirect, exchange it.
- client_credentials: no person involved; get a token now to prove the settings work.
"""

from __future__ import annotations

import http.server
import secrets
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from maildesk.auth.providers import OAuthFailure, Provider
from maildesk.auth.state import Grant, TokenState

SLOW_DOWN_STEP = 5  # RFC 8628 3.5: add five seconds on slow_down
BROWSER_WAIT = 300.0

Show = Callable[[str], None]


def next_interval(code: str, interval: float) -> float | None:
    """How long to wait before polling again after an error code; None: give up."""
    if code == "authorization_pending":
        return interval
    if code == "slow_down":
        return interval + SLOW_DOWN_STEP
    return None


def device_login(provider: Provider, show: Show,
                 sleep: Callable[[float], None] = time.sleep) -> Grant:
    device = provider.start_device()
    show(device.message or f"To sign in, open {device.verification_uri} and enter the code "
                           f"{device.user_code} (valid for {device.expires_in // 60} minutes).")
    if device.raw is not None:  # MSAL polls by itself
        return provider.poll_device(device)
    deadline, interval = time.monotonic() + device.expires_in, float(device.interval)
    while True:
        try:
            return provider.poll_device(device)
        except OAuthFailure as exc:
            wait = next_interval(exc.code, interval)
            if wait is None or time.monotonic() + wait > deadline:
                raise
            interval = wait
            sleep(wait)


def client_login(provider: Provider) -> Grant:
    return provider.refresh(TokenState())


def browser_login(provider: Provider, show: Show,
                  open_url: Callable[[str], object] | None = None, port: int = 0) -> Grant:
    """`port` 0 picks a free one; a fixed port lets a headless server's admin forward it
    (`ssh -L PORT:127.0.0.1:PORT server`) and open the URL on their own machine."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    catcher = _RedirectCatcher(port)
    redirect_uri = f"http://127.0.0.1:{catcher.port}/"
    url = provider.authorization_url(redirect_uri, state, verifier)
    show(f"To sign in, open this URL in a browser on this machine:\n{url}")
    if open_url is not None:
        open_url(url)
    query = catcher.wait(BROWSER_WAIT)
    if query.get("state") != state:
        raise OAuthFailure("invalid_request", "the redirect did not carry our state")
    if "code" not in query:
        raise OAuthFailure(query.get("error", "access_denied"), query.get("error_description"))
    return provider.exchange_code(query["code"], redirect_uri, verifier)


class _RedirectCatcher:
    """A one-request HTTP server on a free loopback port that keeps the query string."""

    def __init__(self, port: int) -> None:
        self.query: dict[str, str] = {}
        self.done = threading.Event()
        catcher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                params = parse_qs(urlsplit(self.path).query)
                if not params:
                    self.send_error(404)
                    return
                catcher.query = {k: v[0] for k, v in params.items()}
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"maildesk: done, you can close this page.\n")
                catcher.done.set()

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]

    def wait(self, timeout: float) -> dict[str, str]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            if not self.done.wait(timeout):
                raise OAuthFailure("expired_token", "no redirect came back in time")
            return self.query
        finally:
            self.server.shutdown()
            self.server.server_close()
