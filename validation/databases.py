"""The validation databases: each distinct `output.data.sql` loaded once into `pinolo_<hash16>`.

A database counts as loaded only when its row in `pinoloft_meta.loaded_databases` exists, written after the
last statement, so an interrupted load is redone from scratch. The reader account gets SELECT on exactly
these databases and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pymysql

from .errors import DataSqlError, TargetError
from .guard import split_data_sql
from .server import Endpoint

__all__ = ["META_DATABASE", "DatabaseLoader", "database_name"]

log = logging.getLogger(__name__)

META_DATABASE = "pinoloft_meta"


def database_name(data_sql_hash: str) -> str:
    return f"pinolo_{data_sql_hash[:16]}"


@dataclass
class DatabaseLoader:
    """Loads data SQL through the admin account and grants the reader SELECT on the result."""

    admin: Endpoint
    reader_user: str | None
    reader_host: str = "localhost"
    statement_timeout_s: float = 60.0

    def __post_init__(self) -> None:
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
        """The database holding `text`, loading it first if needed; DataSqlError if the text is unusable."""
        name = database_name(data_sql_hash)
        if name not in self._loaded:
            statements = split_data_sql(text, source)  # raises DataSqlError before anything runs
            self._load(name, data_sql_hash, statements, source)
            self._loaded.add(name)
        self._grant(name)
        return name

    def _load(self, name: str, data_sql_hash: str, statements, source: str) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            self._connection.select_db(name)
            for number, statement in enumerate(statements, start=1):
                try:
                    cursor.execute(statement.sql)
                except pymysql.err.MySQLError as error:
                    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                    raise DataSqlError(f"{source}: statement {number} failed on the server: {error.args[-1]}") from None
            cursor.execute(
                f"INSERT INTO `{META_DATABASE}`.loaded_databases (database_name, data_sql_hash, statements)"
                " VALUES (%s, %s, %s)",
                (name, data_sql_hash, len(statements)),
            )
        log.info("loaded %s (%d statements) into %s", source, len(statements), name)

    def _grant(self, name: str) -> None:
        if self.reader_user is None:
            return
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(f"GRANT SELECT ON `{name}`.* TO %s@%s", (self.reader_user, self.reader_host))
        except pymysql.err.MySQLError as error:
            raise TargetError(f"cannot grant SELECT on {name} to {self.reader_user}: {error.args[-1]}") from None
