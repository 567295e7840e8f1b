"""The throwaway MariaDB runs without privilege: never as root, no LOCAL INFILE, no symbolic links, files only in
an empty folder of its own; its files live where its user can reach them, the secrets where only we can."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

import pymysql
import pytest

from validation import ServerError, ThrowawayServer
from validation.server import os_user, private_home, server_account

AS_ROOT = os.geteuid() == 0


def process_uid(pid: int) -> int:
    """The real uid of a running process, as the kernel reports it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def admin_query(server: ThrowawayServer, sql: str) -> list[tuple]:
    with server.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_mariadbd_never_runs_as_root(mariadb):
    uid = process_uid(mariadb.running()["pid"])
    assert uid != 0
    assert uid == (pwd.getpwnam("mysql").pw_uid if AS_ROOT else os.geteuid())
    assert server_account().uid == uid


def test_the_server_reads_and_writes_files_only_in_an_empty_folder_of_its_own_and_never_local_ones(mariadb):
    assert admin_query(mariadb, "SELECT @@secure_file_priv, @@local_infile, @@have_symlink") == [
        (f"{mariadb.files_path}/", 0, "DISABLED")]
    assert list(mariadb.files_path.iterdir()) == []
    assert mariadb.files_path.parent == mariadb.home
    # even the admin, who holds FILE, reads no system file and writes nowhere else
    assert admin_query(mariadb, "SELECT LOAD_FILE('/etc/passwd')") == [(None,)]
    outside = Path(tempfile.mkdtemp())
    try:
        os.chmod(outside, 0o777)  # writable by the server's user: only secure_file_priv stands in the way
        with pytest.raises(pymysql.err.MySQLError, match="secure-file-priv"):
            admin_query(mariadb, f"SELECT 1 INTO OUTFILE '{outside}/out.txt'")
        assert list(outside.iterdir()) == []
    finally:
        shutil.rmtree(outside)


def test_the_admin_is_still_the_os_user_over_the_socket(mariadb):
    me = f"{os_user()}@localhost"
    assert admin_query(mariadb, "SELECT CURRENT_USER(), USER()") == [(me, me)]
    assert admin_query(mariadb, "SELECT user FROM mysql.global_priv WHERE user = 'root'") == [("root",)]


def _mode(path: Path) -> tuple[int, int, int]:
    found = path.stat()
    return stat.S_IMODE(found.st_mode), found.st_uid, found.st_gid


@pytest.mark.skipif(not AS_ROOT, reason="only a root-run tool hands the server to another user")
def test_as_root_the_server_files_sit_in_a_folder_of_its_user_inside_a_reachable_root(tmp_path):
    mysql = pwd.getpwnam("mysql")
    reachable = Path(tempfile.mkdtemp(prefix="pinoloft-test-"))  # pytest's own folders are 0700: mysql cannot enter
    os.chmod(reachable, 0o755)
    server = ThrowawayServer(reachable / "mariadb")
    try:
        state = server.start()
        server.reader()
        assert server.home == reachable / "mariadb" / "server" == Path(state["home"])
        assert state["socket"] == str(server.home / "mariadb.sock")
        assert _mode(server.root) == (0o710, 0, mysql.pw_gid)  # its user may pass, not list; nobody else either
        assert _mode(server.home) == (0o700, mysql.pw_uid, mysql.pw_gid)
        assert server.datadir.stat().st_uid == mysql.pw_uid and server.log_path.stat().st_uid == mysql.pw_uid
        for ours in (server.secrets_path, server.state_path):
            assert _mode(ours) == (0o600, 0, 0)
        assert process_uid(state["pid"]) == mysql.pw_uid
    finally:
        server.stop()
        shutil.rmtree(reachable)


@pytest.mark.skipif(not AS_ROOT, reason="only a root-run tool hands the server to another user")
def test_as_root_under_an_unreachable_root_the_server_files_move_to_a_private_temp_folder(tmp_path):
    mysql = pwd.getpwnam("mysql")
    server = ThrowawayServer(tmp_path / "mariadb")  # under pytest's 0700 folder
    try:
        state = server.start()
        assert server.home == private_home(tmp_path / "mariadb") / "server" == Path(state["home"])
        assert server.home.parent.parent == Path(tempfile.gettempdir())
        assert _mode(server.home) == (0o700, mysql.pw_uid, mysql.pw_gid)
        assert _mode(server.home.parent) == (0o710, 0, mysql.pw_gid)  # ours: mysql cannot swap its home for a link
        assert _mode(server.root) == (0o700, 0, 0)
        assert sorted(path.name for path in server.root.iterdir()) == ["server.json"]
        assert admin_query(server, "SELECT @@secure_file_priv") == [(f"{server.home}/files/",)]
        # the same folder finds the same server again
        assert ThrowawayServer(tmp_path / "mariadb").running() == state
    finally:
        server.stop()

    # a failure names the log where it really is
    hurried = ThrowawayServer(tmp_path / "mariadb", startup_timeout_s=0.0)
    with pytest.raises(ServerError, match=f"see {private_home(tmp_path / 'mariadb')}/server/mariadb.log"):
        hurried.start()


@pytest.mark.skipif(not AS_ROOT, reason="only root makes folders for another user in the temp directory")
def test_a_private_temp_folder_someone_else_made_first_is_refused(tmp_path):
    root = tmp_path / "mariadb"
    squatted = private_home(root)
    squatted.mkdir(mode=0o777)
    os.chown(squatted, pwd.getpwnam("nobody").pw_uid, -1)
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
        with pytest.raises(ServerError, match=f"{squatted} belongs to uid {nobody}, not to root"):
            ThrowawayServer(root).start()
    finally:
        squatted.rmdir()


@pytest.mark.skipif(not AS_ROOT, reason="only a root-run server keeps its files in the temp directory")
def test_a_temp_folder_whose_server_folder_is_gone_is_removed_by_the_next_server(tmp_path):
    gone = tmp_path / "gone"
    first = ThrowawayServer(gone)
    first.start()
    first.stop()
    assert (private_home(gone) / "server" / "datadir" / "mysql").is_dir()
    shutil.rmtree(gone)
    ThrowawayServer(tmp_path / "other").initialise()
    assert not private_home(gone).exists()


def test_an_account_a_more_specific_one_shadows_is_refused_with_its_name(mariadb):
    """Over the socket the server matches `user`@'localhost' before `user`@'%': an account made at '%' whose
    name is also taken at 'localhost' cannot log in with its fresh password, and the error names the account
    that shadows it (the loader's message; the reader's adds PINOLOFT_READER_DSN)."""
    from validation.errors import TargetError
    from validation.server import Endpoint, _ensure_account

    admin = mariadb.admin()
    user = "pinoloft_shadowed"
    admin_query(mariadb, f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'Local-Pa55word'")
    try:
        with pytest.raises(TargetError) as refused:
            _ensure_account(admin, user, "%", "Fresh-Pa55word")
        assert str(refused.value) == (
            f"the account {user}@'%' was given a fresh password but cannot log in at {admin.describe()}: the "
            f"server also has {user}@'localhost', which it matches first for this client; drop that account "
            f"(DROP USER) if nothing else uses it")
        assert "Pa55word" not in str(refused.value)
        # the shadowing account is left as it was: it still logs in with its own password
        local = Endpoint(user=user, password="Local-Pa55word", unix_socket=admin.unix_socket)
        with local.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER()")
            assert cursor.fetchall() == ((f"{user}@localhost",),)
        # once it is gone, the same call gives an account that logs in
        admin_query(mariadb, f"DROP USER '{user}'@'localhost'")
        account = _ensure_account(admin, user, "%", "Fresh-Pa55word")
        with account.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER()")
            assert cursor.fetchall() == ((f"{user}@%",),)
    finally:
        admin_query(mariadb, f"DROP USER IF EXISTS '{user}'@'localhost'")
        admin_query(mariadb, f"DROP USER IF EXISTS '{user}'@'%'")
