"""Endpoints (where a server is and how to log in) and the throwaway local MariaDB we start and stop.

The throwaway server lives in one folder (`data/mariadb/` by default): `datadir/` from `mariadb-install-db`,
`mariadb.log`, and `server.json` (pid, port, socket) while it runs. It listens on 127.0.0.1 on a free port
and on a private socket; no system service, no config outside the folder. The administrator logs in over
the socket as the operating-system user (MariaDB's unix_socket authentication), so there is no admin
password anywhere. The read-only account's password is random, kept in `secrets.json` (mode 0600) and
never logged or written to the warehouse.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

from .errors import ServerError, TargetError

__all__ = ["READER_USER", "Endpoint", "ThrowawayServer", "mariadb_binaries", "parse_dsn"]

log = logging.getLogger(__name__)

READER_USER = "pinoloft_reader"
_SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes on Linux


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach a server as one account. The password never appears in `repr` or `describe()`."""

    user: str
    host: str = "127.0.0.1"
    port: int = 3306
    unix_socket: str | None = None
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        """Where, without credentials: what logs and the warehouse may record."""
        return f"socket {self.unix_socket}" if self.unix_socket else f"{self.host}:{self.port}"

    def connect(
        self, database: str | None = None, read_timeout: float | None = None, raw_cells: bool = False
    ) -> pymysql.Connection:
        """A text-protocol connection with no multi-statements and no LOCAL INFILE. With `raw_cells`, cells
        stay the server's text (no conversion to numbers or dates), as PINOLO's oracle reads them."""
        options = {"conv": {}} if raw_cells else {}
        try:
            return pymysql.connect(
                user=self.user,
                password=self.password,
                host=self.host,
                port=self.port,
                unix_socket=self.unix_socket,
                database=database,
                charset="utf8mb4",
                autocommit=True,
                client_flag=0,
                local_infile=False,
                ssl_disabled=True if self.unix_socket else None,  # TLS over a local socket only costs
                connect_timeout=10,
                read_timeout=read_timeout,
                **options,
            )
        except pymysql.err.MySQLError as error:
            raise TargetError(f"cannot connect to {self.describe()} as {self.user}: {_message(error)}") from None


def parse_dsn(dsn: str) -> Endpoint:
    """`mysql://user:password@host:port` (or `mariadb://`, `?unix_socket=/path`) → Endpoint."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb", "tidb", "oceanbase") or not parts.username:
        raise TargetError("a DSN looks like mysql://user:password@host:port (the scheme and user are required)")
    query = parse_qs(parts.query)
    socket_path = query.get("unix_socket", [None])[0]
    try:
        port = parts.port or 3306
    except ValueError:
        raise TargetError("the DSN's port is not a number") from None
    return Endpoint(
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        host=parts.hostname or "127.0.0.1",
        port=port,
        unix_socket=socket_path,
    )


def _message(error: Exception) -> str:
    args = getattr(error, "args", ())
    return str(args[1]) if len(args) >= 2 else str(error)


def mariadb_binaries() -> tuple[str, str] | None:
    """(`mariadbd`, `mariadb-install-db`) when Debian's mariadb-server is installed, else None.
    /usr/sbin is not on every user's PATH, so it is searched too."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/usr/bin"])
    server = shutil.which("mariadbd", path=search) or shutil.which("mysqld", path=search)
    installer = shutil.which("mariadb-install-db", path=search) or shutil.which("mysql_install_db", path=search)
    return (server, installer) if server and installer else None


@dataclass
class ThrowawayServer:
    """A private MariaDB in `root`: initialised once, started and stopped by us."""

    root: Path
    startup_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()

    @property
    def datadir(self) -> Path:
        return self.root / "datadir"

    @property
    def log_path(self) -> Path:
        return self.root / "mariadb.log"

    @property
    def state_path(self) -> Path:
        return self.root / "server.json"

    @property
    def secrets_path(self) -> Path:
        return self.root / "secrets.json"

    # -- lifecycle -----------------------------------------------------------------------------------

    def initialise(self) -> None:
        """Create the data directory with `mariadb-install-db` unless it exists."""
        if (self.datadir / "mysql").is_dir():
            return
        binaries = self._binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        if self.datadir.exists():
            shutil.rmtree(self.datadir)  # a half-made datadir from an interrupted initialisation
        user = getpass.getuser()
        command = [
            binaries[1], "--no-defaults", f"--datadir={self.datadir}", f"--user={user}",
            "--auth-root-authentication-method=socket", f"--auth-root-socket-user={user}", "--skip-test-db",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ServerError(f"mariadb-install-db failed ({result.returncode}): {result.stderr.strip()[-800:]}")

    def running(self) -> dict | None:
        """The state of the running server (pid, port, socket), or None."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not isinstance(state.get("pid"), int) or not _alive(state["pid"]):
            return None
        if not Path(state.get("socket", "")).exists():
            return None
        return state

    def start(self) -> dict:
        """Start the server unless it runs; wait until it accepts connections; return its state."""
        state = self.running()
        if state is not None:
            return state
        self.initialise()
        binaries = self._binaries()
        port = _free_port()
        socket_path = self._socket_path()
        pid_path = self.root / "mariadbd.pid"
        for stale in (Path(socket_path), pid_path):
            stale.unlink(missing_ok=True)
        command = [
            binaries[0], "--no-defaults", f"--datadir={self.datadir}", f"--socket={socket_path}",
            f"--pid-file={pid_path}", f"--port={port}", "--bind-address=127.0.0.1", f"--log-error={self.log_path}",
            f"--user={getpass.getuser()}", "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--innodb-buffer-pool-size=128M", "--max-connections=64",
            "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2",
        ]
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        state = {"pid": process.pid, "port": port, "socket": socket_path}
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerError(f"mariadbd exited with {process.returncode} at start; see {self.log_path}: {self._log_tail()}")
            if Path(socket_path).exists():
                try:
                    self.admin().connect().close()
                    break
                except TargetError:
                    pass
            time.sleep(0.05)
        else:
            process.kill()
            raise ServerError(f"mariadbd did not accept connections in {self.startup_timeout_s:g} s; see {self.log_path}")
        self.state_path.write_text(json.dumps(state))
        log.info("started MariaDB (pid %d) on 127.0.0.1:%d and %s", process.pid, port, socket_path)
        return state

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Shut the server down (SIGTERM, then SIGKILL after `timeout_s`); False if it was not running."""
        state = self.running()
        if state is None:
            self.state_path.unlink(missing_ok=True)
            return False
        pid = state["pid"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.state_path.unlink(missing_ok=True)
        log.info("stopped MariaDB (pid %d)", pid)
        return True

    @contextmanager
    def running_here(self, keep: bool = False) -> Iterator[dict]:
        """The server running for the block: started if needed, and stopped after it only when this block
        started it (and `keep` is false): a server someone else started stays up."""
        started_here = self.running() is None
        try:
            yield self.start()
        finally:
            if started_here and not keep:
                self.stop()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (tests use it)."""
        state = self.running()
        if state is not None:
            os.kill(state["pid"], signal.SIGKILL)
            while _alive(state["pid"]):
                time.sleep(0.02)

    # -- accounts ------------------------------------------------------------------------------------

    def admin(self) -> Endpoint:
        """The administrator: the OS user over the private socket (no password exists)."""
        return Endpoint(user=getpass.getuser(), unix_socket=self._socket_path())

    def reader(self) -> Endpoint:
        """The read-only account over the socket, created on first use with a random password."""
        state = self.running()
        if state is None:
            raise ServerError(f"the throwaway server in {self.root} is not running")
        password = self._reader_password()
        with self.admin().connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE USER IF NOT EXISTS '{READER_USER}'@'localhost' IDENTIFIED BY %s", (password,))
            cursor.execute(f"ALTER USER '{READER_USER}'@'localhost' IDENTIFIED BY %s", (password,))
        return Endpoint(user=READER_USER, password=password, unix_socket=state["socket"])

    def _reader_password(self) -> str:
        try:
            return json.loads(self.secrets_path.read_text())["reader_password"]
        except (OSError, ValueError, KeyError):
            password = secrets.token_urlsafe(24)
            descriptor = os.open(self.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"reader_password": password}, handle)
            return password

    # -- helpers -------------------------------------------------------------------------------------

    def _binaries(self) -> tuple[str, str]:
        binaries = mariadb_binaries()
        if binaries is None:
            raise ServerError("MariaDB is not installed (mariadbd and mariadb-install-db not found): run `make setup`")
        return binaries

    def _socket_path(self) -> str:
        path = str(self.root / "mariadb.sock")
        if len(path.encode()) <= _SOCKET_PATH_LIMIT:
            return path
        # A deep folder cannot hold a socket; a private folder in the temp dir can (same server every time).
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"pinoloft-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        return str(short / "mariadb.sock")

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-5:])
        except OSError:
            return "(no log)"


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
