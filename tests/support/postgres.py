"""A throwaway PostgreSQL cluster for tests: initdb into a fresh temporary directory (under
/dev/shm when it has room, as initdb is three times faster in memory than on disk), one
`postgres` process on a free port of 127.0.0.1, deleted again when the test run ends.

    server = start_postgres()                     # PostgresUnavailable if it cannot run here
    url = server.create_database("orders")        # postgresql+psycopg://postgres@127.0.0.1:…/orders
    server.drop_database("orders")
    server.stop()                                 # immediate shutdown, temporary directory gone

It never touches a cluster the system may run (Debian's package starts one on port 5432): its
own data directory, its own port, its own socket directory, trust authentication for anyone
connecting from 127.0.0.1, and durability switched off for speed (the data is thrown away).

`initdb` and `postgres` refuse to run as root, and the tests do run as root (in CI too): then
they run as the `postgres` system user that Debian's package creates, in a temporary directory
handed over to that user. Otherwise they run as the current user.

The postmaster is this process's own child (started directly, not daemonized by `pg_ctl`), so
that a test run that ends in any way leaves no server behind:
- `stop()`, which the fixture's finalizer calls, and which `atexit` calls if nobody did;
- on Linux, the kernel sends it SIGQUIT (PostgreSQL's immediate shutdown) when the thread that
  started it ends, even on a SIGKILL of the test run, where neither of the above runs;
- the temporary directory of a cluster whose test run died so is removed by the next start.
"""

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.servers import LOCALHOST, free_port

DEBIAN_BINDIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # who runs the cluster when the tests run as root
# A cluster takes about 40 MB, and each database a few MB until its test drops it: in memory
# when there is plenty (not in Docker's default 64 MB /dev/shm).
RAM_TEMP = Path("/dev/shm")  # noqa: S108 - only a base for mkdtemp
RAM_TEMP_MIN_FREE_BYTES = 1 << 30
DIR_PREFIX = "kbsync-pg-"
OWNER_FILE = "owner.pid"  # the test run's pid, so a later run knows when the cluster is orphaned

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
READY_POLL_SECONDS = 0.02
PORT_ATTEMPTS = 3  # another process may take the free port between the pick and the bind
LOG_TAIL_CHARS = 6000

# Passed as `-c name=value` to the postmaster; the socket directory is added per cluster.
SERVER_SETTINGS = {
    "listen_addresses": LOCALHOST,
    "max_connections": "200",
    # Throwaway data: no durability.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Quiet, and nothing written outside the data directory.
    "logging_collector": "off",
    "log_min_messages": "warning",
}

INSTALL_HINT = (
    "`make test` installs it with apt-get when it can; by hand: apt-get install postgresql"
)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Looked up now, in the parent: between fork and exec the child must not load libraries.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot run on this machine (not installed, no user to run it as)."""


class PostgresFailedToStart(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """Debian's PostgreSQL 15, else whatever `pg_config --bindir` names; None if neither has
    `initdb` and `postgres`."""
    candidates = [DEBIAN_BINDIR]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            answer = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(answer.stdout.strip()))
    for bindir in candidates:
        if all(os.access(bindir / program, os.X_OK) for program in ("initdb", "postgres")):
            return bindir
    return None


def _die_with_parent() -> None:
    """In the child, before exec (and after any change of user, which would clear it): on
    Linux, get SIGQUIT, PostgreSQL's immediate shutdown, when the starting thread ends."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


def _child_environment(home: Path) -> dict[str, str]:
    """This environment without libpq's PG* variables, which would point initdb or the server
    elsewhere; messages in English, whatever the developer's locale."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    environment.update({"HOME": str(home), "LC_ALL": "C", "LC_MESSAGES": "C"})
    return environment


def process_gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie waiting to be reaped counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # alive, as far as we can tell without /proc
    return state in ("Z", "X")


def _reachable_by_others(directory: Path) -> bool:
    """Whether another user can reach entries of `directory` (every ancestor searchable)."""
    path = directory.resolve()
    return all(os.stat(part).st_mode & 0o001 for part in (path, *path.parents))


def _temp_base(as_other_user: bool) -> Path:
    """Where the cluster's temporary directory goes: in memory if there is room (initdb takes
    a third of the time it takes on disk), else $TMPDIR, else /tmp."""
    candidates = []
    with contextlib.suppress(OSError):
        if shutil.disk_usage(RAM_TEMP).free >= RAM_TEMP_MIN_FREE_BYTES:
            candidates.append(RAM_TEMP)
    candidates += [Path(tempfile.gettempdir()), Path("/tmp")]  # noqa: S108 - a last resort
    for base in candidates:
        if os.access(base, os.W_OK | os.X_OK) and (not as_other_user or _reachable_by_others(base)):
            return base
    return candidates[-1]


def remove_orphaned_clusters(base: Path) -> None:
    """Delete what clusters of earlier test runs left behind when those runs died without
    cleaning up: only where both that test run and the cluster's postmaster are gone."""
    for directory in base.glob(DIR_PREFIX + "*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not process_gone(owner):
            continue
        try:
            postmaster = int((directory / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            postmaster = None
        if postmaster is None or process_gone(postmaster):
            shutil.rmtree(directory, ignore_errors=True)


class PostgresServer:
    """One running cluster; create databases in it and get their SQLAlchemy URLs."""

    def __init__(self, bindir: Path, base_dir: Path, run_as: pwd.struct_passwd | None):
        self.bindir = bindir
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir / "socket"
        self.log_path = base_dir / "postgres.log"
        self.run_as = run_as
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._stopped = False

    # -- databases ---------------------------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{LOCALHOST}:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host=LOCALHOST, port=self.port, user=SUPERUSER, dbname=database, **kwargs
        )

    def create_database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        with self.connect(autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop it, closing whatever connections to it are still open."""
        with self.connect(autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def _run_kwargs(self) -> dict:
        kwargs = {
            "cwd": self.base_dir,  # initdb fails in a directory its user cannot read
            "env": _child_environment(self.base_dir),
            "stdin": subprocess.DEVNULL,
        }
        if self.run_as is not None:
            kwargs.update(user=self.run_as.pw_uid, group=self.run_as.pw_gid, extra_groups=[])
        return kwargs

    def initdb(self) -> None:
        command = [
            str(self.bindir / "initdb"),
            "--pgdata", str(self.data_dir),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, **self._run_kwargs()
        )
        if result.returncode != 0:
            raise PostgresFailedToStart(
                f"initdb exited with {result.returncode}:\n{result.stdout}{result.stderr}"
            )

    def start(self) -> "PostgresServer":
        for _attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            if self._start_on_port():
                return self
        raise PostgresFailedToStart(f"no free port after {PORT_ATTEMPTS} tries:\n{self.log()}")

    def _start_on_port(self) -> bool:
        """Start the postmaster and wait until it accepts connections; False if its port was
        taken meanwhile, PostgresFailedToStart on any other failure."""
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(self.socket_dir)}
        command = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for pytest does not reach it.
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **self._run_kwargs(),
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                if "could not bind" in self.log()[log_start:]:
                    return False
                raise PostgresFailedToStart(
                    f"postgres exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with self.connect(connect_timeout=2):
                    return True
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PostgresFailedToStart(
                        f"postgres did not accept connections on {LOCALHOST}:{self.port} "
                        f"within {STARTUP_TIMEOUT_SECONDS:.0f} s ({error}):\n{self.log_tail()}"
                    ) from error
            time.sleep(READY_POLL_SECONDS)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT, what `pg_ctl stop -m immediate` sends; SIGKILL if that
        is not enough), then the temporary directory goes. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        if self.is_running():
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_SECONDS)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self) -> str:
        return self.log()[-LOG_TAIL_CHARS:] or "(the server log is empty)"

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *_exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.is_running() else "stopped"
        return f"<PostgresServer {LOCALHOST}:{self.port} {self.base_dir} {state}>"


def start_postgres(bindir: Path | None = None) -> PostgresServer:
    """A fresh cluster, running and accepting connections. PostgresUnavailable if PostgreSQL
    is not installed (or, as root, there is no `postgres` user to run it as)."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed (no initdb in {DEBIAN_BINDIR} nor from pg_config). "
            + INSTALL_HINT
        )
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and PostgreSQL refuses root: it needs a {SYSTEM_USER!r} "
                f"system user to run as, which Debian's package creates. {INSTALL_HINT}"
            ) from None
    base = _temp_base(as_other_user=run_as is not None)
    remove_orphaned_clusters(base)
    base_dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base))
    (base_dir / OWNER_FILE).write_text(str(os.getpid()))
    (base_dir / "socket").mkdir()
    if run_as is not None:
        for path in (base_dir, base_dir / "socket"):
            os.chown(path, run_as.pw_uid, run_as.pw_gid)
    server = PostgresServer(bindir, base_dir, run_as)
    atexit.register(server.stop)
    try:
        server.initdb()
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
