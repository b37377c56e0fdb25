"""Production serving: one waitress process, many threads sharing the app's cached indexes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swatch.serve", description="Serve Swatch with waitress.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        print("error: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    from waitress import serve

    from swatch.web import create_app

    app = create_app()
    from swatch.web.search import engine

    with app.app_context():
        engine().warm_up_async()  # build the active indexes now, in the background; /health says when ready
    print(f"Swatch on http://{args.host}:{args.port}/  (Ctrl+C stops)", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="swatch", channel_timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
