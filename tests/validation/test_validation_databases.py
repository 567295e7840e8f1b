"""Data SQL is loaded by an account that may only CREATE tables and INSERT rows in validation databases, each
statement under a time limit. The hostile statements run past the text check too (`load_statements`), to show
the server-side lock holds on its own; a refused or stopped file leaves no database, and its pairs are logged
`no_database`."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from validation import DataSqlError, RunSettings, Scope, TargetError, split_data_sql, validate
from validation.databases import META_DATABASE, DatabaseLoader, check_loader_grants, database_name
from validation.server import LOADER_USER, Endpoint, ensure_loader


def admin_query(mariadb, sql: str, parameters=None) -> list[tuple]:
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())


def accounts(mariadb) -> list[tuple]:
    return admin_query(mariadb, "SELECT user, host, priv FROM mysql.global_priv ORDER BY user, host")


def databases(mariadb) -> set[str]:
    return {row[0] for row in admin_query(mariadb, "SHOW DATABASES")}


def fake_hash(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture
def loader(mariadb):
    with DatabaseLoader(mariadb.admin(), None, loader=mariadb.loader(), statement_timeout_s=1.0) as loader:
        yield loader


@pytest.fixture
def open_folder():
    """A folder the server's user may write in (0777, outside pytest's 0700 tree): only the server's own
    settings keep files out of it."""
    folder = Path(tempfile.mkdtemp(prefix="pinoloft-outside-"))
    os.chmod(folder, 0o777)
    yield folder
    shutil.rmtree(folder)


def test_the_loader_account_may_create_and_insert_in_validation_databases_and_nothing_else(mariadb):
    mariadb.loader()
    grants = [row[0] for row in admin_query(mariadb, f"SHOW GRANTS FOR '{LOADER_USER}'@'localhost'")]
    assert grants[0].startswith(f"GRANT USAGE ON *.* TO `{LOADER_USER}`@`localhost` IDENTIFIED BY PASSWORD '*")
    assert grants[1:] == [f"GRANT INSERT, CREATE ON `pinolo\\_%`.* TO `{LOADER_USER}`@`localhost`"]
    with mariadb.loader().connect() as connection:
        check_loader_grants(mariadb.loader(), connection)


def test_an_account_with_more_than_that_is_refused_before_anything_loads(mariadb):
    wide = Endpoint(user="pinoloft_wide", password="Wide-Pa55word", unix_socket=mariadb.running()["socket"])
    admin_query(mariadb, "CREATE USER IF NOT EXISTS 'pinoloft_wide'@'localhost' IDENTIFIED BY 'Wide-Pa55word'")
    admin_query(mariadb, "GRANT CREATE, INSERT ON `pinolo\\_%`.* TO 'pinoloft_wide'@'localhost'")
    admin_query(mariadb, "GRANT FILE ON *.* TO 'pinoloft_wide'@'localhost'")
    data_sql_hash = fake_hash("wide")
    with DatabaseLoader(mariadb.admin(), None, loader=wide) as loader:
        with pytest.raises(TargetError, match=r"the loader account pinoloft_wide may do more than CREATE and INSERT in "
                                              r"the validation databases \(GRANT FILE ON \*\.\* TO "):
            loader.load_statements(data_sql_hash, ["CREATE TABLE t (a INT)"], "wide/output.data.sql")
    assert database_name(data_sql_hash) not in databases(mariadb)


@pytest.mark.parametrize("statement, refusal", [
    ("INSERT INTO mysql.global_priv VALUES ('%', 'evil', '{}')",
     "INSERT command denied to user 'pinoloft_loader'@'localhost' for table `mysql`.`global_priv`"),
    ("INSERT INTO /*!mysql.*/global_priv VALUES ('%', 'evil', '{}')",
     "INSERT command denied to user 'pinoloft_loader'@'localhost' for table `mysql`.`global_priv`"),
    ("CREATE USER evil@'%' IDENTIFIED BY 'x'",
     "Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation"),
    ("GRANT ALL PRIVILEGES ON *.* TO 'pinoloft_loader'@'localhost'",
     "Access denied for user 'pinoloft_loader'@'localhost'"),
])
def test_statements_that_would_change_the_accounts_are_refused_by_the_server(statement, refusal, mariadb, loader):
    before = accounts(mariadb)
    data_sql_hash = fake_hash(statement)
    with pytest.raises(DataSqlError) as refused:
        loader.load_statements(data_sql_hash, ["CREATE TABLE t (a INT)", statement], "t/output.data.sql")
    assert str(refused.value).startswith("t/output.data.sql: statement 2 failed on the server: " + refusal)
    assert accounts(mariadb) == before
    assert database_name(data_sql_hash) not in databases(mariadb)  # the half-loaded database is gone
    assert admin_query(mariadb, f"SELECT count(*) FROM {META_DATABASE}.loaded_databases WHERE database_name = %s",
                       (database_name(data_sql_hash),)) == [(0,)]


def test_data_directory_writes_no_file_outside_the_datadir(mariadb, loader, open_folder):
    name = loader.load_statements(fake_hash("data directory"), [
        f"CREATE TABLE u (a INT) DATA DIRECTORY='{open_folder}'",
        f"CREATE TABLE v (a INT) ENGINE=MyISAM DATA DIRECTORY='{open_folder}' INDEX DIRECTORY='{open_folder}'",
        "INSERT INTO u VALUES (1)",
    ], "u/output.data.sql")
    assert list(open_folder.rglob("*")) == []
    assert sorted(path.name for path in (mariadb.datadir / name).iterdir() if path.suffix != ".frm") == [
        "db.opt", "u.ibd", "v.MYD", "v.MYI"]
    assert admin_query(mariadb, f"SELECT a FROM `{name}`.u") == [(1,)]


def test_load_file_loads_no_file_content(mariadb, loader):
    name = loader.load_statements(fake_hash("load_file"), [
        "CREATE TABLE t (a LONGTEXT)", "INSERT INTO t VALUES (LOAD_FILE('/etc/passwd'))"], "t/output.data.sql")
    assert admin_query(mariadb, f"SELECT a FROM `{name}`.t") == [(None,)]


def test_a_slow_statement_is_stopped_at_the_loaders_time_limit(mariadb, loader):
    data_sql_hash = fake_hash("sleep")
    started = time.monotonic()
    with pytest.raises(DataSqlError) as stopped:
        loader.load_statements(data_sql_hash, ["CREATE TABLE t (a INT)", "INSERT INTO t VALUES (SLEEP(60))"],
                               "t/output.data.sql")
    assert time.monotonic() - started < 30  # stopped, not run to its end
    assert str(stopped.value) == ("t/output.data.sql: statement 2 failed on the server: Query execution was "
                                  "interrupted (max_statement_time exceeded)")
    assert database_name(data_sql_hash) not in databases(mariadb)


def test_a_statement_that_lifts_its_own_limit_is_cut_by_the_read_timeout_and_killed(mariadb):
    data_sql_hash = fake_hash("lifted")
    with DatabaseLoader(mariadb.admin(), None, loader=mariadb.loader(), statement_timeout_s=1.0,
                        read_timeout_margin_s=1.0) as loader:
        started = time.monotonic()
        with pytest.raises(DataSqlError) as stopped:
            loader.load_statements(data_sql_hash, [
                "CREATE TABLE t (a INT)", "SET SESSION max_statement_time = 0", "INSERT INTO t VALUES (SLEEP(60))",
            ], "t/output.data.sql")
    assert time.monotonic() - started < 30
    assert str(stopped.value) == ("t/output.data.sql: statement 3 did not finish within 1 s (the loader's time "
                                  "limit) and was stopped")
    assert database_name(data_sql_hash) not in databases(mariadb)
    assert admin_query(mariadb, "SELECT count(*) FROM information_schema.processlist WHERE user = %s",
                       (LOADER_USER,)) == [(0,)]


# The hostile files, whole, through `ensure`: whichever lock stops them (the text check or the server),
# the accounts, the file system and the time spent stay as they were.
def test_hostile_data_sql_end_to_end_changes_no_account_writes_no_file_and_reads_none(mariadb, loader, open_folder):
    before = accounts(mariadb)
    superuser = fake_hash("superuser")
    with pytest.raises(DataSqlError, match="^superuser/output.data.sql: "):
        loader.ensure(superuser, "CREATE TABLE t (a INT);\nINSERT INTO /*!mysql.*/global_priv VALUES "
                                 "('%', 'evil', '{\"access\": 1073741823}');\n", "superuser/output.data.sql")
    assert accounts(mariadb) == before and database_name(superuser) not in databases(mariadb)

    try:
        loader.ensure(fake_hash("directory"), f"CREATE TABLE u (a INT) /*!50000 DATA DIRECTORY='{open_folder}' */;",
                      "directory/output.data.sql")
    except DataSqlError:
        pass
    assert list(open_folder.rglob("*")) == []

    try:
        name = loader.ensure(fake_hash("passwd"), "CREATE TABLE t (a LONGTEXT);\nINSERT INTO t VALUES "
                                                  "(LOAD_FILE('/etc/passwd'));", "passwd/output.data.sql")
        assert admin_query(mariadb, f"SELECT a FROM `{name}`.t") == [(None,)]
    except DataSqlError:
        assert database_name(fake_hash("passwd")) not in databases(mariadb)

    started = time.monotonic()
    with pytest.raises(DataSqlError, match=r"^sleep/output.data.sql: statement 2\b"):
        loader.ensure(fake_hash("sleep end to end"), "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (SLEEP(60));",
                      "sleep/output.data.sql")
    assert time.monotonic() - started < 30
    assert accounts(mariadb) == before


def test_the_loader_a_dsn_admin_makes_is_as_narrow(mariadb):
    """On a server given by DSN the admin creates `pinoloft_loader`@'%' with a fresh password: the same grant."""
    admin_query(mariadb, "CREATE USER IF NOT EXISTS 'pinoloft_dsn_admin'@'127.0.0.1' IDENTIFIED BY 'Dsn-Pa55word'")
    admin_query(mariadb, "GRANT ALL PRIVILEGES ON *.* TO 'pinoloft_dsn_admin'@'127.0.0.1' WITH GRANT OPTION")
    admin = Endpoint(user="pinoloft_dsn_admin", password="Dsn-Pa55word", port=mariadb.running()["port"])
    with DatabaseLoader(admin, None, reader_host="%") as loader:
        assert (loader.loader.user, loader.loader.host, loader.loader.port) == (LOADER_USER, "127.0.0.1", admin.port)
        name = loader.load_statements(fake_hash("dsn"), ["CREATE TABLE t (a INT)", "INSERT INTO t VALUES (7)"],
                                      "dsn/output.data.sql")
    assert admin_query(mariadb, f"SELECT a FROM `{name}`.t") == [(7,)]
    grants = [row[0] for row in admin_query(mariadb, f"SHOW GRANTS FOR '{LOADER_USER}'@'%'")]
    assert grants[1:] == [f"GRANT INSERT, CREATE ON `pinolo\\_%`.* TO `{LOADER_USER}`@`%`"]
    # a second run gives it a new password; the old one no longer logs in
    old = loader.loader
    ensure_loader(admin, "%", "Another-Pa55word")
    with pytest.raises(TargetError, match="cannot connect"):
        old.connect().close()


def warehouse_query(warehouse, sql: str, parameters=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def test_a_data_sql_the_server_refuses_logs_its_pairs_as_no_database(warehouse, mariadb):
    """A file the text check accepts but the server refuses under the loader account: its task's pairs are
    logged `no_database` with the statement and the server's words, the run goes on."""
    (run, dbms, task, content), = warehouse_query(warehouse, """
        SELECT d.run, d.dbms, d.task, d.content FROM raw.data_sqls d
        WHERE (d.run, d.dbms, d.task) IN (SELECT (p.run, p.dbms, p.task) FROM marts.pairs p
                                          JOIN marts.dataset_candidates c USING (pair_id) WHERE c.dataset_name = 'demo')
        ORDER BY ALL LIMIT 1""")
    hostile = content.rstrip().rstrip(";") + ";\nINSERT INTO no_such_table VALUES (1);\n"
    hostile_hash = hashlib.sha256(hostile.encode()).hexdigest()
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("UPDATE raw.data_sqls SET content = ?, sha256 = ? WHERE run = ? AND dbms = ? AND task = ?",
                           [hostile, hostile_hash, run, dbms, task])
    report = validate(warehouse, Scope(dataset="demo"), RunSettings(repeats=1), mariadb.reader(), mariadb.admin(),
                      loader=mariadb.loader(), quiet=True)
    assert report.status == "finished"
    number = len(split_data_sql(hostile, "x"))  # the last statement is the refused one
    logged = warehouse_query(warehouse, """
        SELECT DISTINCT r.original_status, r.mutated_status, r.original_error_class FROM raw.validation_runs r
        JOIN marts.pairs p USING (pair_hash) WHERE p.run = ? AND p.dbms = ? AND p.task = ?""", [run, dbms, task])
    assert logged == [("no_database", "no_database",
                       f"no_database: {run}/{dbms}/{task}/output.data.sql: statement {number} failed on the server: "
                       f"Table '{database_name(hostile_hash)}.no_such_table' doesn't exist")]
    assert database_name(hostile_hash) not in databases(mariadb)
