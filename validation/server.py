"""Endpoints (where a server is and how to log in) and the throwaway local MariaDB we start and stop.

The throwaway server belongs to one folder (`data/mariadb/` by default). Its own files (`datadir/` from
`mariadb-install-db`, `mariadb.log`, the socket, the pid file and `files/`, the empty folder `secure_file_priv`
points at) are in its *home*: that folder itself, or, when we run as root, a folder owned by the unprivileged
user the server runs as (`mysql`, else `nobody`): `<folder>/server/`, or `<tmp>/pinoloft-server-<digest>/server/`
when that user cannot reach `<folder>` (see `ThrowawayServer.home`). `server.json` (pid, port, socket, home)
while it runs and `secrets.json` stay in the folder itself, readable by us alone.

It listens on 127.0.0.1 on a free port and on a private socket; no system service, no config outside the
folder; no LOCAL INFILE, no symbolic links (so no DATA/INDEX DIRECTORY), and files only in its empty `files/`.
The administrator logs in over the socket as the operating-system user (MariaDB's unix_socket
authentication), so there is no admin password anywhere. The read-only account's and the loader account's
passwords are random, kept in `secrets.json` (mode 0600) and never logged or written to the warehouse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

from .errors import ServerError, TargetError, TargetUnreachable

__all__ = [
    "LOADER_DATABASES", "LOADER_PRIVILEGES", "LOADER_USER", "READER_USER", "Endpoint", "Grant", "ServerAccount",
    "ThrowawayServer", "account_grants", "ensure_loader", "ensure_reader", "mariadb_binaries", "os_user",
    "parse_dsn", "private_home", "server_account",
]

log = logging.getLogger(__name__)

READER_USER = "pinoloft_reader"
LOADER_USER = "pinoloft_loader"
# What loading data SQL needs (CREATE TABLE, INSERT) and where: every validation database `pinolo_<hash16>`
# (`\_` is a literal underscore in a grant). Never DROP: the admin drops a half-loaded database itself.
LOADER_PRIVILEGES = "CREATE, INSERT"
LOADER_DATABASES = "`pinolo\\_%`"
_UNPRIVILEGED_USERS = ("mysql", "nobody")
_ROOT_NOTE = "server-folder.txt"  # next to a temp-directory home: the server folder it belongs to
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
            raise TargetUnreachable(f"cannot connect to {self.describe()} as {self.user}: {_message(error)}") from None


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


@dataclass(frozen=True, slots=True)
class ServerAccount:
    """The operating-system user `mariadbd` runs as."""

    name: str
    uid: int
    gid: int


def server_account() -> ServerAccount:
    """Who runs the server: ourselves, or, when we are root, `mysql` (else `nobody`): MariaDB parses untrusted
    SQL, and a flaw in it must not hand out root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)
    for name in _UNPRIVILEGED_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)
    raise ServerError(f"running as root, and no unprivileged user ({' or '.join(_UNPRIVILEGED_USERS)}) exists to run "
                      "MariaDB as: create one (`useradd --system mysql`) or run as another user")


def os_user() -> str:
    """The name unix_socket authentication sees for this process (its effective uid, not $USER)."""
    return pwd.getpwuid(os.geteuid()).pw_name


@dataclass
class ThrowawayServer:
    """A private MariaDB in `root`: initialised once, started and stopped by us."""

    root: Path
    startup_timeout_s: float = 60.0
    _home: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()

    @property
    def home(self) -> Path:
        """The folder of the server's own files, owned by the user it runs as (created on first use).

        Not root: `root` itself. Root: `server/` in a folder of ours that the server's user may pass through
        but not list or change (0710, its group): `root` itself when that user can reach it, else a folder in
        the temp directory named after a digest of `root` (`private_home`), so the same `root` always finds the
        same server. The server's user can never swap its home for a link to something else root then writes."""
        if self._home is None:
            account = server_account()
            self.root.mkdir(parents=True, exist_ok=True)
            if account.uid == os.geteuid():
                os.chmod(self.root, 0o700)
                self._home = self.root
            elif _traversable_by(self.root.parent, account):
                os.chown(self.root, os.geteuid(), account.gid)
                os.chmod(self.root, 0o710)
                self._home = _private_folder(self.root / "server", account)
            else:
                os.chmod(self.root, 0o700)
                _remove_orphaned_homes()
                outer = _passage_folder(private_home(self.root), account)
                _write_text(outer / _ROOT_NOTE, str(self.root))
                self._home = _private_folder(outer / "server", account)
        return self._home

    @property
    def datadir(self) -> Path:
        return self.home / "datadir"

    @property
    def log_path(self) -> Path:
        return self.home / "mariadb.log"

    @property
    def files_path(self) -> Path:
        """`secure_file_priv`: the only folder the server may read or write files in, empty and its own."""
        return self.home / "files"

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
        if self.datadir.exists():
            shutil.rmtree(self.datadir)  # a half-made datadir from an interrupted initialisation
        # `--user` owns the datadir; root logs in as the OS user over the socket (no password).
        command = [
            binaries[1], "--no-defaults", f"--datadir={self.datadir}", f"--user={server_account().name}",
            "--auth-root-authentication-method=socket", f"--auth-root-socket-user={os_user()}", "--skip-test-db",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ServerError(f"mariadb-install-db failed ({result.returncode}): {result.stderr.strip()[-800:]}")

    def running(self) -> dict | None:
        """The state of the running server (pid, port, socket, home), or None."""
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
        account = server_account()
        files = _private_folder(self.files_path, account)
        port = _free_port()
        socket_path = self._socket_path()
        pid_path = self.home / "mariadbd.pid"
        for stale in (Path(socket_path), pid_path):
            stale.unlink(missing_ok=True)
        # --user: mariadbd gives up root for that user as it starts; no LOCAL INFILE; files only in an empty
        # folder of its own; no symbolic links, which also makes DATA/INDEX DIRECTORY options ignored.
        command = [
            binaries[0], "--no-defaults", f"--datadir={self.datadir}", f"--socket={socket_path}",
            f"--pid-file={pid_path}", f"--port={port}", "--bind-address=127.0.0.1", f"--log-error={self.log_path}",
            f"--user={account.name}", f"--secure-file-priv={files}", "--local-infile=0", "--skip-symbolic-links",
            "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--innodb-buffer-pool-size=128M", "--max-connections=64",
            "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2",
        ]
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        state = {"pid": process.pid, "port": port, "socket": socket_path, "home": str(self.home)}
        try:
            self._wait_until_ready(process, socket_path)
        except BaseException:
            # Not recorded in server.json yet, so nobody else could ever stop it (Ctrl-C lands here too).
            process.kill()
            raise
        _write_private(self.state_path, state)
        log.info("started MariaDB (pid %d, as %s) on 127.0.0.1:%d and %s", process.pid, account.name, port, socket_path)
        return state

    def _wait_until_ready(self, process: subprocess.Popen, socket_path: str) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerError(f"mariadbd exited with {process.returncode} at start; see {self.log_path}: {self._log_tail()}")
            if Path(socket_path).exists():
                try:
                    self.admin().connect().close()
                    return
                except TargetError:
                    pass
            time.sleep(0.05)
        raise ServerError(f"mariadbd did not accept connections in {self.startup_timeout_s:g} s; see {self.log_path}")

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
        return Endpoint(user=os_user(), unix_socket=self._socket_path())

    def reader(self) -> Endpoint:
        """The read-only account over the socket, created on first use with a random password."""
        self._running_socket()
        return ensure_reader(self.admin(), "localhost", self._secret("reader_password"))

    def loader(self) -> Endpoint:
        """The account that loads data SQL (CREATE and INSERT on validation databases only), over the socket,
        created on first use with a random password."""
        self._running_socket()
        return ensure_loader(self.admin(), "localhost", self._secret("loader_password"))

    def _running_socket(self) -> str:
        state = self.running()
        if state is None:
            raise ServerError(f"the throwaway server in {self.root} is not running")
        return state["socket"]

    def _secret(self, key: str) -> str:
        """A password from `secrets.json`, made and stored (mode 0600) the first time it is asked for."""
        try:
            stored = json.loads(self.secrets_path.read_text())
        except (OSError, ValueError):
            stored = {}
        if not isinstance(stored, dict):
            stored = {}
        if not isinstance(stored.get(key), str):
            stored[key] = secrets.token_urlsafe(24)
            _write_private(self.secrets_path, stored)
        return stored[key]

    # -- helpers -------------------------------------------------------------------------------------

    def _binaries(self) -> tuple[str, str]:
        binaries = mariadb_binaries()
        if binaries is None:
            raise ServerError("MariaDB is not installed (mariadbd and mariadb-install-db not found): run `make setup`")
        return binaries

    def _socket_path(self) -> str:
        path = str(self.home / "mariadb.sock")
        if len(path.encode()) <= _SOCKET_PATH_LIMIT:
            return path
        # A deep folder cannot hold a socket; a private folder in the temp dir can (same server every time).
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        short = _private_folder(Path(tempfile.gettempdir()) / f"pinoloft-{digest}", server_account())
        return str(short / "mariadb.sock")

    def _log_tail(self) -> str:
        try:  # the server's user owns the log: never follow a link it may have put there
            descriptor = os.open(self.log_path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as handle:
                text = handle.read().decode(errors="replace")
            return " | ".join(text.strip().splitlines()[-5:])
        except OSError:
            return "(no log)"


def private_home(root: Path) -> Path:
    """Where a root-run server of `root` keeps its files (in `server/`) when its user cannot reach `root`: a
    folder in the temp directory named after a digest of `root` (so the same folder always finds the same
    server)."""
    digest = hashlib.sha256(str(Path(root).absolute()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"pinoloft-server-{digest}"


def _remove_orphaned_homes() -> None:
    """Remove the temp-directory homes whose server folder is gone (a deleted test folder, say) and whose
    server is not running: a datadir is a cache of ~100 MB that nothing would ever use again."""
    for outer in Path(tempfile.gettempdir()).glob("pinoloft-server-*"):
        try:
            found = os.lstat(outer)
            if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
                continue  # not one of ours
            root = Path((outer / _ROOT_NOTE).read_text())
            pid_path = outer / "server" / "mariadbd.pid"
            pid = int(pid_path.read_text()) if pid_path.exists() else None
        except (OSError, ValueError):
            continue
        if root.exists() or outer != private_home(root) or (pid is not None and _alive(pid)):
            continue
        shutil.rmtree(outer, ignore_errors=True)
        log.info("removed %s: its server folder %s is gone", outer, root)


def _traversable_by(folder: Path, account: ServerAccount) -> bool:
    """Whether `account` may pass through `folder` and every folder above it (mode bits; ACLs are not read)."""
    groups = set(os.getgrouplist(account.name, account.gid))
    for step in (folder, *folder.parents):
        mode = os.stat(step)
        if mode.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif mode.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not mode.st_mode & bit:
            return False
    return True


def _made_folder(path: Path) -> os.stat_result:
    """`path` made (0700) unless it exists; its own lstat, refusing anything that is not a plain folder."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode):
        raise ServerError(f"{path} is not a folder (a link or a file?); remove it and try again")
    return found


def _passage_folder(path: Path, account: ServerAccount) -> Path:
    """`path` as a folder of ours that `account` may pass through but not list or change (0710, its group),
    made if missing. Its name is predictable, so one someone else made first (or a link) is refused."""
    found = _made_folder(path)
    if found.st_uid != os.geteuid():
        raise ServerError(f"{path} belongs to uid {found.st_uid}, not to {os_user()}; remove it and try again")
    if found.st_gid != account.gid:
        os.lchown(path, -1, account.gid)
    if stat.S_IMODE(found.st_mode) != 0o710:
        os.chmod(path, 0o710)
    return path


def _write_text(path: Path, text: str) -> None:
    """Write a small file of ours, never through a link."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _private_folder(path: Path, account: ServerAccount) -> Path:
    """`path` as a folder of `account`'s alone (0700), made if missing. The names in the temp directory are
    predictable, so a folder someone else made there first (or a link) is refused, not used."""
    found = _made_folder(path)
    if found.st_uid not in (account.uid, os.geteuid()):
        raise ServerError(f"{path} belongs to uid {found.st_uid}, not to {account.name}; remove it and try again")
    if (found.st_uid, found.st_gid) != (account.uid, account.gid):
        os.lchown(path, account.uid, account.gid)
    if stat.S_IMODE(found.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def _write_private(path: Path, content: dict) -> None:
    """Write JSON readable by us alone, whole or not at all (a crash never leaves half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(content, handle)
    os.replace(partial, path)


_GRANT = re.compile(r"^GRANT (.+?) ON (.+?) TO ", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Grant:
    """One line of SHOW GRANTS: its privileges (upper case; empty when the line is not `GRANT … ON … TO`),
    what they are on, and the line with any password hash cut off, fit for an error message."""

    privileges: frozenset[str]
    on: str
    shown: str


def account_grants(connection: pymysql.Connection) -> list[Grant]:
    """The grants of the account `connection` is logged in as (the checks of what an account may do)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        lines = [row[0] if isinstance(row[0], str) else row[0].decode() for row in cursor.fetchall()]
    grants = []
    for line in lines:
        found = _GRANT.match(line)
        privileges = frozenset(part.strip().upper() for part in found.group(1).split(",")) if found else frozenset()
        grants.append(Grant(privileges, found.group(2).strip() if found else "",
                            re.sub(r"IDENTIFIED BY .*", "IDENTIFIED BY …", line)))
    return grants


def _ensure_user(cursor, user: str, host: str, password: str) -> None:
    """Create the account if it is missing and give it `password` either way."""
    cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password))
    cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))


def ensure_reader(admin: Endpoint, host: str, password: str) -> Endpoint:
    """The read-only account at `host` (created if missing, given `password`), reached where `admin` is. It is
    granted SELECT on each validation database as that database is loaded (`DatabaseLoader`), nothing else."""
    return _ensure_account(admin, READER_USER, host, password)


def ensure_loader(admin: Endpoint, host: str, password: str) -> Endpoint:
    """The loader account at `host` (created if missing, given `password`, granted CREATE and INSERT on the
    validation databases `pinolo_…`), reached where `admin` is. The grant gives nothing on `mysql.*`, nor FILE,
    nor SUPER; `databases.check_loader_grants` refuses the account if it holds anything more."""
    return _ensure_account(admin, LOADER_USER, host, password,
                           f"GRANT {LOADER_PRIVILEGES} ON {LOADER_DATABASES.replace('%', '%%')}.* TO %s@%s")


def _ensure_account(admin: Endpoint, user: str, host: str, password: str, grant: str | None = None) -> Endpoint:
    try:
        with admin.connect() as connection, connection.cursor() as cursor:
            _ensure_user(cursor, user, host, password)
            if grant is not None:
                cursor.execute(grant, (user, host))
    except pymysql.err.MySQLError as error:
        raise TargetError(f"cannot create the account {user}@{host} as {admin.user} at {admin.describe()}: "
                          f"{_message(error)}") from None
    account = Endpoint(user=user, password=password, host=admin.host, port=admin.port, unix_socket=admin.unix_socket)
    if "%" not in host and "_" not in host:
        return account  # a literal host ('localhost', an address) is the most specific: nothing matches first
    try:
        account.connect().close()
    except TargetUnreachable:
        shadows = _other_hosts(admin, user, host)
        if not shadows:
            raise
        # The server matches a login to its most specific account: `user`@'localhost' (or an address) is
        # tried before `user`@'%', so the fresh password of `host`'s account never gets a chance.
        others = ", ".join(f"{user}@'{other}'" for other in shadows)
        raise TargetError(
            f"the account {user}@'{host}' was given a fresh password but cannot log in at {admin.describe()}: the "
            f"server also has {others}, which it matches first for this client; drop that account (DROP USER) if "
            f"nothing else uses it"
            + (", or name the account to read with in PINOLOFT_READER_DSN" if user == READER_USER else "")
        ) from None
    return account


def _other_hosts(admin: Endpoint, user: str, host: str) -> list[str]:
    """The hosts of the server's other accounts named `user` (none where the admin may not read mysql.user)."""
    try:
        with admin.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s AND Host <> %s ORDER BY Host", (user, host))
            return [row[0] if isinstance(row[0], str) else row[0].decode() for row in cursor.fetchall()]
    except (TargetError, pymysql.err.MySQLError):
        return []


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
