"""The edges of kbsync's HTTP surface, for every answer (the console's pages, its websocket,
the JSON API): a Host allow-list, and security headers.

- Host allow-list (KBSYNC_ALLOWED_HOSTS): a page on another site can make a browser send
  requests to a name that it resolves to 127.0.0.1 (DNS rebinding); such requests carry that
  name as their Host, and are refused. By default only localhost and loopback addresses.
- Security headers: a Content-Security-Policy under which Streamlit's console still works (its
  one inline script allowed by its hash, read from the installed Streamlit; 'unsafe-eval' for
  Vega's chart expressions; inline styles for its CSS-in-JS; the navigation's icons from Google's
  font server), no framing, no MIME sniffing, no referrer. Checked in a real browser by
  tests/e2e, which fails on any Content-Security-Policy refusal.

Both are ASGI middleware that app.py hands to st.App, so they wrap Streamlit's own routes too.
"""

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path

import streamlit
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import parse_host_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kbsync_core.runtime import get_kbsync

HOST_NOT_ALLOWED = (
    "This server does not answer for the host {host!r}; add it to KBSYNC_ALLOWED_HOSTS."
)
STREAMLIT_INDEX = Path(streamlit.__file__).parent / "static" / "index.html"
MATERIAL_ICONS_ORIGIN = "https://fonts.gstatic.com"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def host_is_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """`allowed` holds names, `*.domain` patterns, or `*` for any. An IPv6 host comes in
    brackets (`[::1]`) and is compared without them."""
    host = host.lower().strip("[]")
    return any(
        pattern in ("*", host) or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in allowed
    )


class HostAllowList:
    """Refuse requests (and websockets) whose Host is not one this server answers for."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        parsed = parse_host_header(Headers(scope=scope).get("host"))
        host = parsed.host if parsed is not None else ""
        if host and host_is_allowed(host, get_kbsync().settings.allowed_hosts):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": HOST_NOT_ALLOWED.format(host=host)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@cache
def content_security_policy() -> str:
    inline_scripts = INLINE_SCRIPT.findall(STREAMLIT_INDEX.read_text(encoding="utf-8"))
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in inline_scripts
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-eval' {hashes}".strip(),
            "style-src 'self' 'unsafe-inline'",
            # Streamlit draws the navigation's material icons from Google's font server.
            f"img-src 'self' data: blob: {MATERIAL_ICONS_ORIGIN}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@cache
def security_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy().encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]


class SecurityHeaders:
    """Add the security headers to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                extra = [(n, v) for n, v in security_headers() if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
