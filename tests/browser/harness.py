"""What only the browser tests share: their server's admin token (server and Chromium: swatch.testing)."""

from __future__ import annotations

ADMIN_TOKEN = "browser-admin-token"
