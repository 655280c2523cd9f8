"""A throwaway PostgreSQL + PostGIS server for the tests: one per test process, one fresh database per test.

`PgServer.start` runs ``initdb`` in a new temporary folder (as the ``postgres`` system user when the tests run as
root: PostgreSQL refuses to run as root), starts the server on a free TCP port of 127.0.0.1 only (no Unix socket,
``trust`` authentication, no fsync: nothing here must survive), and builds a template database with the PostGIS
extension, so `PgServer.new_database` is one ``CREATE DATABASE ... TEMPLATE``. Under pytest-xdist every worker
process starts its own server; a port another process took between picking and binding is retried with another.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["POSTGIS_PACKAGE", "PgServer", "PgUnavailableError", "find_postgres"]

#: The Debian package that brings PostgreSQL 15 with PostGIS 3 (and scripts/test installs).
POSTGIS_PACKAGE = "postgresql-15-postgis-3"
_TEMPLATE = "stationmap_template"
_START_ATTEMPTS = 5
_SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "max_locks_per_transaction": "128",
    "log_min_messages": "warning",
    "timezone": "UTC",
}


class PgUnavailableError(RuntimeError):
    """PostgreSQL or PostGIS is not installed on this machine (the message names the package to install)."""


def find_postgres() -> Path:
    """
    Return the folder of PostgreSQL's server binaries (``initdb``, ``pg_ctl``, ``postgres``) with PostGIS installed.

    ``pg_config --bindir`` first, then the newest ``/usr/lib/postgresql/*/bin``.

    Raises
    ------
    PgUnavailableError
        If no server binaries or no PostGIS extension is found.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True)
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates.extend(versions)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            sharedir = _sharedir(bindir)
            if sharedir is not None and (sharedir / "extension" / "postgis.control").is_file():
                return bindir
            msg = (f"PostgreSQL is installed ({bindir}) but PostGIS is not: install the Debian package "
                   f"{POSTGIS_PACKAGE} (scripts/test does).")
            raise PgUnavailableError(msg)
    msg = f"PostgreSQL with PostGIS is not installed: install the Debian package {POSTGIS_PACKAGE} (scripts/test does)."
    raise PgUnavailableError(msg)


def _sharedir(bindir: Path) -> Path | None:
    tool = bindir / "pg_config"
    if tool.is_file():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([str(tool), "--sharedir"], capture_output=True, text=True, timeout=30, check=True)
            return Path(out.stdout.strip())
    # Debian: /usr/lib/postgresql/15/bin -> /usr/share/postgresql/15
    return Path("/usr/share/postgresql") / bindir.parent.name


def _temp_root() -> str:
    """
    The folder for the server's data: the usual temporary folder, or /tmp when running as root and the
    ``postgres`` user could not reach the usual one (pytest's basetemp is always private to its user, 0700).
    """
    root = Path(tempfile.gettempdir()).resolve()
    if os.geteuid() != 0:
        return str(root)
    reachable = all(folder.stat().st_mode & 0o001 for folder in (root, *root.parents))
    return str(root) if reachable else "/tmp"  # world-traversable; the server's own folder is 0700


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """
    One running throwaway server; `url` names its template-free maintenance database, `new_database` makes more.

    Use `PgServer.start` to make one and `stop` to end it (also run at interpreter exit, in case).
    """

    def __init__(self, bindir: Path, folder: Path, port: int) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self._names = itertools.count(1)
        self._admin: Any = None
        self._stopped = False

    # --- lifetime ---------------------------------------------------------------------------------------------

    @classmethod
    def start(cls) -> PgServer:
        """
        Initialise a new cluster in a temporary folder, start it on a free port and build the PostGIS template.

        Raises
        ------
        PgUnavailableError
            If PostgreSQL, PostGIS or psycopg is not installed.
        RuntimeError
            If the server cannot be initialised or started (the message holds its log).
        """
        bindir = find_postgres()
        try:
            import psycopg  # noqa: F401 - the template is made through it
        except ImportError as err:
            msg = "psycopg is not installed: pip install -e '.[test]' (it brings stationmap[postgis])."
            raise PgUnavailableError(msg) from err
        folder = Path(tempfile.mkdtemp(prefix=f"stationmap-pg-{os.getpid()}-", dir=_temp_root()))
        server = cls(bindir, folder, 0)
        atexit.register(server.stop)
        try:
            server._initdb()
            server._start_on_free_port()
            server._make_template()
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl stop -m immediate``) and delete its folder; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60")
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- databases --------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The ``postgresql://`` URL of one database on this server (user ``postgres``, no password)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create a new empty database with PostGIS (a copy of the template) and return its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE {_TEMPLATE} STRATEGY WAL_LOG')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database `new_database` made, closing whatever connections are left on it."""
        name = url.rsplit("/", 1)[1]
        if not re.fullmatch(r"test_\d+_\d+", name):
            msg = f"not a test database: {name!r}"
            raise ValueError(msg)
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- helpers ----------------------------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True,
                              cwd=self.folder, stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"})

    def _initdb(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions")
        except subprocess.CalledProcessError as err:
            msg = f"initdb failed in {self.data}:\n{err.stdout}\n{err.stderr}"
            raise RuntimeError(msg) from err

    def _start_on_free_port(self) -> None:
        log = self.folder / "server.log"
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            options = " ".join(f"-c {key}='{value}'" for key, value in {**_SERVER_OPTIONS, "port": self.port}.items())
            try:
                self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o", options)
                return
            except subprocess.CalledProcessError as err:
                text = log.read_text(errors="replace") if log.exists() else ""
                if attempt < _START_ATTEMPTS and ("could not bind" in text or "already in use" in text):
                    time.sleep(0.2 * attempt)  # another process took the port after we picked it: pick again
                    with contextlib.suppress(OSError):
                        log.unlink()
                    continue
                msg = f"PostgreSQL did not start on port {self.port}:\n{err.stdout}\n{err.stderr}\n{text}"
                raise RuntimeError(msg) from err

    def _make_template(self) -> None:
        import psycopg

        self._admin = psycopg.connect(self.url(), autocommit=True, connect_timeout=30)
        self._admin.execute(f"CREATE DATABASE {_TEMPLATE}")
        with psycopg.connect(self.url(_TEMPLATE), autocommit=True, connect_timeout=30) as template:
            template.execute("CREATE EXTENSION postgis")
        self._admin.execute(f"ALTER DATABASE {_TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
