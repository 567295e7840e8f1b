"""The validation databases: each distinct `output.data.sql` loaded once into `pinolo_<hash16>`.

Data SQL is untrusted, so it runs under the loader account, which may only CREATE tables and INSERT rows in
`pinolo_…` databases (no FILE, no SUPER, nothing on `mysql.*`), checked with SHOW GRANTS before every load,
each statement under the target's time limit and a client read timeout a little above it. What we write
ourselves (CREATE and DROP DATABASE, the bookkeeping, the reader's grant) runs as the admin.

A database counts as loaded only when its row in `pinoloft_meta.loaded_databases` exists, written after the
last statement, so an interrupted load is redone from scratch; a failed one is dropped. The reader account gets
SELECT on exactly these databases and nothing else.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pymysql

from .errors import DataSqlError, ServerLost, TargetError
from .guard import split_data_sql
from .server import LOADER_DATABASES, LOADER_PRIVILEGES, Endpoint, account_grants, ensure_loader
from .targets import Target, load_target

__all__ = ["META_DATABASE", "DatabaseLoader", "check_loader_grants", "database_name"]

log = logging.getLogger(__name__)

META_DATABASE = "pinoloft_meta"
# The client waits this much longer than the server's statement time limit before it gives up on a statement
# (and kills it): the server's own limit should always be the one that fires.
READ_TIMEOUT_MARGIN_S = 5.0
# The loader sends no SELECT; the target's session statements still want a row cap to format in.
_LOADER_ROW_CAP = 1
# Client-side errors (pymysql's CR_* codes): the connection broke, rather than the server refusing.
_CLIENT_ERRORS = range(2000, 3000)

_LOADER_PRIVILEGES = frozenset(privilege.strip() for privilege in LOADER_PRIVILEGES.split(","))


def database_name(data_sql_hash: str) -> str:
    return f"pinolo_{data_sql_hash[:16]}"


def check_loader_grants(endpoint: Endpoint, connection) -> None:
    """Raise TargetError unless the account (connected as `connection`) can do no more than CREATE tables and
    INSERT rows in the validation databases."""
    for grant in account_grants(connection):
        if (grant.privileges == {"USAGE"} and grant.on == "*.*") or (
                grant.privileges <= _LOADER_PRIVILEGES and grant.on == f"{LOADER_DATABASES}.*"):
            continue
        raise TargetError(f"the loader account {endpoint.user} may do more than CREATE and INSERT in the validation "
                          f"databases ({grant.shown}); untrusted data SQL is loaded only by such an account")


@dataclass
class DatabaseLoader:
    """Loads data SQL through the loader account and grants the reader SELECT on the result.

    `loader` is the loader account; without one, the admin creates it at `reader_host` with a fresh random
    password for this loader's lifetime. `target` gives the per-connection settings (the statement time limit,
    the pinned sql_mode); MariaDB's by default."""

    admin: Endpoint
    reader_user: str | None
    reader_host: str = "localhost"
    statement_timeout_s: float = 60.0
    loader: Endpoint | None = None
    target: Target | None = None
    read_timeout_margin_s: float = READ_TIMEOUT_MARGIN_S

    def __post_init__(self) -> None:
        if self.target is None:
            self.target = load_target("mariadb")
        if self.loader is None:
            self.loader = ensure_loader(self.admin, self.reader_host, secrets.token_urlsafe(24))
        self._connection = self.admin.connect()
        with self._connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{META_DATABASE}`")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS `{META_DATABASE}`.loaded_databases ("
                " database_name VARCHAR(64) PRIMARY KEY, data_sql_hash CHAR(64) NOT NULL,"
                " statements INT NOT NULL, loaded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            cursor.execute(f"SELECT database_name FROM `{META_DATABASE}`.loaded_databases")
            self._loaded = {row[0] for row in cursor.fetchall()}

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DatabaseLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ensure(self, data_sql_hash: str, text: str, source: str) -> str:
        """The database holding `text`, loading it first if needed; DataSqlError if the text is unusable or the
        server refuses or stops one of its statements (the half-loaded database is dropped)."""
        if database_name(data_sql_hash) in self._loaded:
            return self.load_statements(data_sql_hash, [], source)
        # The text check refuses what is not plainly CREATE TABLE or INSERT of literals before anything runs.
        statements = [statement.sql for statement in split_data_sql(text, source)]
        return self.load_statements(data_sql_hash, statements, source)

    def load_statements(self, data_sql_hash: str, statements: Sequence[str], source: str) -> str:
        """`ensure` past the text check: the database of `data_sql_hash`, loaded from the SQL texts `statements`
        unless it is loaded already. Whatever they say, they run as the loader account under its time limit."""
        name = database_name(data_sql_hash)
        if name not in self._loaded:
            self._load(name, data_sql_hash, statements, source)
            self._loaded.add(name)
        self._grant(name)
        return name

    def _load(self, name: str, data_sql_hash: str, statements: Sequence[str], source: str) -> None:
        self._admin_execute(f"DROP DATABASE IF EXISTS `{name}`")
        self._admin_execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            self._run_as_loader(name, statements, source)
        except BaseException:
            self._drop_quietly(name)
            raise
        self._admin_execute(
            f"INSERT INTO `{META_DATABASE}`.loaded_databases (database_name, data_sql_hash, statements)"
            " VALUES (%s, %s, %s)",
            (name, data_sql_hash, len(statements)),
        )
        log.info("loaded %s (%d statements) into %s", source, len(statements), name)

    def _run_as_loader(self, name: str, statements: Sequence[str], source: str) -> None:
        """Every statement of the file on a fresh loader connection to `name`, after the session settings and
        the grant check; a statement the read timeout cuts is killed on the server too."""
        limit = self.statement_timeout_s
        connection = self.loader.connect(database=name, read_timeout=limit + self.read_timeout_margin_s)
        try:
            with connection.cursor() as cursor:
                try:
                    for setting in self.target.session_statements(limit, _LOADER_ROW_CAP):
                        cursor.execute(setting)
                except pymysql.err.MySQLError as error:
                    raise TargetError(f"the loader account cannot apply the session settings at "
                                      f"{self.loader.describe()}: {error.args[-1]}") from None
                check_loader_grants(self.loader, connection)
                for number, statement in enumerate(statements, start=1):
                    try:
                        cursor.execute(statement)
                    except pymysql.err.MySQLError as error:
                        if error.args and error.args[0] in _CLIENT_ERRORS:
                            self._kill(connection.thread_id(), f"{source}: statement {number}")
                            raise DataSqlError(f"{source}: statement {number} did not finish within {limit:g} s "
                                               f"(the loader's time limit) and was stopped") from None
                        raise DataSqlError(f"{source}: statement {number} failed on the server: "
                                           f"{error.args[-1]}") from None
        finally:
            if connection.open:
                connection.close()

    def _kill(self, thread_id: int, what: str) -> None:
        """End a loader statement the client stopped waiting for: the server would otherwise run it to its end.
        If the admin cannot reach the server either, the server went away (not the data's fault)."""
        try:
            self._admin_execute("KILL CONNECTION %s", (thread_id,))
        except ServerLost as lost:
            raise ServerLost(f"the server went away while loading {what}: {lost}") from None
        except pymysql.err.MySQLError as error:
            log.warning("could not kill the loader's connection %d after %s: %s", thread_id, what, error.args[-1])

    def _drop_quietly(self, name: str) -> None:
        """Drop a half-loaded database; if that fails too, the next load drops it before loading (it is not
        marked loaded), so the first error is the one to report."""
        try:
            self._admin_execute(f"DROP DATABASE IF EXISTS `{name}`")
        except (pymysql.err.MySQLError, ServerLost) as error:
            log.warning("could not drop the half-loaded database %s: %s", name, error)

    def _admin_execute(self, sql: str, parameters: tuple | None = None) -> None:
        """One of our own statements as the admin; ServerLost when the connection broke (the server went
        away), the server's error as raised when it refused."""
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, parameters)
        except pymysql.err.MySQLError as error:
            if error.args and error.args[0] in _CLIENT_ERRORS:
                raise ServerLost(f"lost the admin connection to {self.admin.describe()}: {error.args[-1]}") from None
            raise

    def _grant(self, name: str) -> None:
        if self.reader_user is None:
            return
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(f"GRANT SELECT ON `{name}`.* TO %s@%s", (self.reader_user, self.reader_host))
        except pymysql.err.MySQLError as error:
            raise TargetError(f"cannot grant SELECT on {name} to {self.reader_user}: {error.args[-1]}") from None
