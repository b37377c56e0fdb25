"""Security headers on every response: a strict Content-Security-Policy, no framing, no sniffing, no referrer."""

from __future__ import annotations

from flask import Flask, Response

#: no inline script or style anywhere: the pages load only their own static files (style set from JS goes
#: through the CSSOM, which CSP allows); uploads are previewed from blob: URLs, palettes may be data: URLs
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Add the security headers to every response of `app` (pages, API answers, static files and errors)."""
    app.after_request(_add_headers)
