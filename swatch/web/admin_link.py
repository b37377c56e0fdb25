"""The newcomer's admin link: a one-time login code, printed at start, exchanged once for the admin token."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
from dataclasses import dataclass, field

from flask import Blueprint, Flask, abort, current_app, jsonify
from flask.typing import ResponseReturnValue

from swatch.bounds import text
from swatch.web.context import settings
from swatch.web.params import json_object

bp = Blueprint("admin_link", __name__)

#: the page that opens logged in; its script exchanges ?login=<code> and then drops it from the address
LINK_PAGE = "/training"


@dataclass
class LoginCode:
    """One one-time code: redeemed at most once, compared in constant time."""

    code: str
    used: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def redeem(self, presented: str) -> bool:
        with self.lock:
            if self.used or not hmac.compare_digest(presented.encode(), self.code.encode()):
                return False
            self.used = True
            return True


def is_loopback(host: str) -> bool:
    """True for a bind address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def arm(app: Flask) -> str:
    """Give `app` a fresh one-time login code and return it (its admin token must be set: a generated one)."""
    code = secrets.token_urlsafe(24)
    app.extensions["swatch.admin_login"] = LoginCode(code)
    return code


def link(host: str, port: int, code: str) -> str:
    """The admin link printed at start."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{LINK_PAGE}?login={code}"


@bp.post("/api/admin/login")
def login() -> ResponseReturnValue:
    """Exchange the one-time code of the printed admin link for the admin token (kept by the page for its tab)."""
    body = json_object()
    presented = text(body.get("code"), "code", max_len=200) or ""
    armed: LoginCode | None = current_app.extensions.get("swatch.admin_login")
    if armed is None or not settings().admin_token:
        abort(404, description="this server has no admin link: it was started with SWATCH_ADMIN_TOKEN set or "
                               "for other machines; use the admin token")
    if not armed.redeem(presented):
        abort(403, description="this admin link is wrong or was used already: restart the server for a new one")
    return jsonify(token=settings().admin_token)
