"""A throwaway PostgreSQL 15 server (Debian's `postgresql`) in a temporary folder, for tests and benchmarks.

initdb + pg_ctl under an unprivileged user when run as root (the `postgres` system user, else `nobody`), on a
free 127.0.0.1 port with its unix socket in the folder; `stop()` ends it, `start()` brings it back on the same
port (what the tests of a lost database use), `close()` removes it all."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from swatch.testing.server import HOST, free_port

BIN = Path(os.environ.get("SWATCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "swatch"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (not installed, or initdb / pg_ctl failed): says why in one line."""


def _run_as() -> list[str]:
    """The prefix that runs a command as an unprivileged user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise PostgresUnavailable("running as root and neither the postgres nor the nobody user exists")


def _owner() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return None


@dataclass
class PostgresServer:
    """A running (or stopped) PostgreSQL cluster in `root`, trust-authenticated on 127.0.0.1:`port`."""

    root: Path
    port: int
    _databases: set[str] = field(default_factory=set, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        """A libpq URL of a database of this server (a password only for tests of masking: trust ignores it)."""
        auth = f"{SUPERUSER}:{password}" if password else SUPERUSER
        return f"postgresql://{auth}@{HOST}:{self.port}/{dbname}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*_run_as(), str(BIN / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PostgresUnavailable(f"pg_ctl {args[0]} failed: {last[0]}")
        return done

    def start(self) -> None:
        """Start (or restart) the server on its port and wait until it accepts connections."""
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c fsync=off -c max_connections=400"
                " -c full_page_writes=off -c shared_buffers=64MB")
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"), "-o", opts)

    def stop(self) -> None:
        """Stop the server at once (the way a crash or a network cut looks to its clients); its data stays."""
        self._pg_ctl("stop", "-m", "immediate", "-w", check=False)

    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser on the `postgres` database, outside a transaction."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); returns its name."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self._databases.add(name)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending whatever connections to it are still open."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._databases.discard(name)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(parent: Path | None = None) -> PostgresServer:
    """initdb a new cluster in a temporary folder and start it; PostgresUnavailable says why it cannot."""
    if not (BIN / "initdb").is_file():
        raise PostgresUnavailable(f"PostgreSQL 15 is not installed ({BIN / 'initdb'} missing): apt-get install "
                                  "postgresql")
    root = Path(tempfile.mkdtemp(prefix="swatch-pg-", dir=parent))
    owner = _owner()
    if owner is not None:
        os.chown(root, *owner)
    try:
        cmd = [*_run_as(), str(BIN / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER, "--auth=trust",
               "--no-locale", "-E", "UTF8", "--no-sync"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PostgresUnavailable(f"initdb failed: {last[0]}")
        server = PostgresServer(root, free_port())
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
