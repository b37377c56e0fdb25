"""Admin token check for every state-changing admin endpoint (SWATCH_ADMIN_TOKEN, constant-time compare)."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, request

from swatch.web.context import settings

F = TypeVar("F", bound=Callable[..., Any])


def presented_token() -> str:
    """The token from `Authorization: Bearer ...` or the `X-Admin-Token` header."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("X-Admin-Token", "").strip()


def is_admin() -> bool:
    expected = settings().admin_token
    if not expected:
        return False
    return hmac.compare_digest(presented_token().encode(), expected.encode())


def admin_required(view: F) -> F:
    """401 without a token, 403 with a wrong one; 403 too while no SWATCH_ADMIN_TOKEN is set."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not settings().admin_token:
            abort(403, description="admin actions are disabled: set SWATCH_ADMIN_TOKEN on the server")
        if not presented_token():
            abort(401, description="admin token required (Authorization: Bearer <token>)")
        if not is_admin():
            abort(403, description="wrong admin token")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
