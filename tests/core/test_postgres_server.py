"""The PostgreSQL fixtures (tests/conftest.py, tests/support/postgres.py): a real cluster, one
fresh database per test, and `database_url` running a test on SQLite and on PostgreSQL."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from tests.support.postgres import process_gone, start_postgres

REPO_ROOT = Path(__file__).resolve().parents[2]


def _write_and_read(url: str) -> list[tuple[int, str]]:
    engine = sqlalchemy.create_engine(url)
    text = sqlalchemy.text
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)"))
            connection.execute(text("INSERT INTO jobs VALUES (1, 'sync')"))
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text("SELECT * FROM jobs"))]
    finally:
        engine.dispose()


def _table_names(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(url)
    try:
        return sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _wait_until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_postgres_url_is_a_fresh_database_of_its_own(postgres_server, postgres_url):
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.host) == ("postgres", "127.0.0.1")
    assert url.port == postgres_server.port
    assert _table_names(postgres_url) == []

    assert _write_and_read(postgres_url) == [(1, "sync")]

    other_url = postgres_server.create_database("isolation_other")
    try:
        assert other_url != postgres_url
        assert _table_names(other_url) == []
        assert _table_names(postgres_url) == ["jobs"]
    finally:
        postgres_server.drop_database("isolation_other")


def test_the_cluster_is_ours_not_the_system_one(postgres_server):
    assert postgres_server.port != 5432
    with postgres_server.connect() as connection:
        data_directory = connection.execute("SHOW data_directory").fetchone()[0]
        fsync = connection.execute("SHOW fsync").fetchone()[0]
        max_connections = connection.execute("SHOW max_connections").fetchone()[0]
    assert Path(data_directory) == postgres_server.data_dir
    assert (fsync, max_connections) == ("off", "200")


def test_database_url_works_on_each_backend(database_url, request):
    backend = request.node.callspec.params["database_url"]
    assert make_url(database_url).get_backend_name() == backend
    assert _table_names(database_url) == []
    assert _write_and_read(database_url) == [(1, "sync")]


def test_a_stopped_cluster_leaves_nothing_behind(postgres_server):
    # postgres_server only to skip where PostgreSQL is missing: this test stops a cluster.
    with start_postgres(postgres_server.bindir) as server:
        url = server.create_database("short_lived")
        assert _write_and_read(url) == [(1, "sync")]
        pid, port, base_dir = server.process.pid, server.port, server.base_dir
    assert process_gone(pid)
    assert not base_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", connect_timeout=2)
    server.stop()  # idempotent


def test_a_killed_test_run_takes_its_cluster_with_it(postgres_server):
    """SIGKILL of the process that started the cluster: no atexit, no finalizer; the kernel
    still ends the postmaster (PR_SET_PDEATHSIG), and the next start removes its directory."""
    script = (
        "from tests.support.postgres import start_postgres\n"
        "server = start_postgres()\n"
        "print(server.process.pid, server.base_dir, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        line = starter.stdout.readline()
    finally:
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        starter.stdout.close()
    assert line, "the subprocess could not start a cluster"
    pid, base_dir = int(line.split()[0]), Path(line.split()[1])
    try:
        assert _wait_until(lambda: process_gone(pid)), f"postmaster {pid} outlived its test run"
        assert base_dir.exists()  # nobody cleaned up...
        with start_postgres(postgres_server.bindir):  # ...until the next cluster starts
            assert not base_dir.exists()
    finally:
        if not process_gone(pid):  # the test failed: still, leave no server behind
            os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(base_dir, ignore_errors=True)
