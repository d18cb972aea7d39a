"""Real kbsync processes for tests that go over HTTP: the console (`streamlit run app.py`) and
the sandbox's bedrock-agent HTTP server (`python -m kbsync_sandbox.server`).

    console = start_console(tmp_path)            # a free port, a fresh SQLite file, fast sandbox
    urllib.request.urlopen(console.url + "/api/health")
    console.kill()                               # SIGKILL, as a crash would
    console.restart()                            # same port, same database, same settings
    console.stop()                               # SIGTERM, then SIGKILL if it lingers

Each process writes its stdout and stderr to files under its `log_dir`, kept across restarts,
so that a test can read everything a server ever printed (`output()`).
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
READY_POLL_SECONDS = 0.05
HEALTH_PATH = "/_stcore/health"
LOCALHOST = "127.0.0.1"

# Fast enough that a sandbox sync ends in well under a second, slow enough to watch it run.
FAST_CONSOLE_ENV = {
    "KBSYNC_BACKEND": "sandbox",
    "KBSYNC_SANDBOX_SPEED": "100",
    "KBSYNC_POLL_SECONDS": "0.05",
}
# Variables of the developer's shell that would change what the server under test does.
INHERITED_PREFIXES_DROPPED = ("KBSYNC_", "AWS_", "STREAMLIT_")


PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Looked up now, in the parent: between fork and exec the child must not load libraries.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class ServerFailedToStart(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the thread that started it ends
    (the test run's main thread, as fixtures run there), so that a crashed or killed test run
    leaves no server behind. Elsewhere, nothing."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A port nothing listens on right now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


def clean_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without kbsync/AWS/Streamlit settings, plus `overrides`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(INHERITED_PREFIXES_DROPPED)
    }
    # Unbuffered, so that a killed server's last words still reach its log files.
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(overrides)
    return environment


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1):
            return True
    except OSError:
        return False


# The `st` column of /proc/net/tcp for a listening socket (TCP_LISTEN, include/net/tcp_states.h).
TCP_LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """The local addresses that sockets listening on TCP `port` are bound to in this network
    namespace, IPv4 and IPv6 (`0.0.0.0` and `::` mean every address), read from /proc/net/tcp
    and /proc/net/tcp6 (Linux only)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        path = Path(table)
        if not path.exists():  # a kernel without IPv6
            continue
        for line in path.read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, local_port = local.split(":")
            if state != TCP_LISTEN or int(local_port, 16) != port:
                continue
            # The address is printed as 32-bit words, each in the machine's byte order.
            packed = b"".join(
                int(address[start:start + 8], 16).to_bytes(4, sys.byteorder)
                for start in range(0, len(address), 8)
            )
            found.add(socket.inet_ntop(family, packed))
    return found


class RunningServer:
    """One server process, restartable with the same command, environment and port."""

    def __init__(
        self,
        name: str,
        command: list[str],
        environment: Mapping[str, str],
        port: int,
        log_dir: Path,
        is_ready: Callable[["RunningServer"], bool],
    ):
        self.name = name
        self.command = command
        self.environment = dict(environment)
        self.port = port
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._is_ready = is_ready
        self.process: subprocess.Popen | None = None
        # Where a console keeps its SQLite file (start_console sets it).
        self.data_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.stderr.log"

    def start(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> "RunningServer":
        if self.is_running():
            raise RuntimeError(f"{self.name} already runs (pid {self.process.pid})")
        with self.stdout_path.open("ab") as stdout, self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                # Its own session: a Ctrl-C meant for pytest does not reach it twice.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not self._is_ready(self):
            if self.process.poll() is not None:
                raise ServerFailedToStart(
                    f"{self.name} exited with {self.process.returncode}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServerFailedToStart(
                    f"{self.name} not ready after {timeout:.0f} s:\n{self.output()}"
                )
            time.sleep(READY_POLL_SECONDS)
        return self

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM and wait for a clean exit; SIGKILL if it does not come. Idempotent."""
        if not self.is_running():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to close anything, as in a crash."""
        if not self.is_running():
            return
        self.process.kill()
        self.process.wait(STOP_TIMEOUT_SECONDS)

    def restart(self) -> "RunningServer":
        self.stop()
        return self.start()

    def output(self) -> str:
        """Everything the server printed so far, across restarts (stdout, then stderr)."""
        return "".join(
            path.read_text(errors="replace") if path.exists() else ""
            for path in (self.stdout_path, self.stderr_path)
        )

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *_exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.is_running() else "stopped"
        return f"<RunningServer {self.name} {self.url} {state}>"


def start_console(
    data_dir: Path,
    environment: Mapping[str, str] | None = None,
    *,
    name: str = "console",
    port: int | None = None,
    entry: str = "app.py",
    extra_args: tuple[str, ...] = (),
    address: str | None = LOCALHOST,
) -> RunningServer:
    """`streamlit run app.py` (or another `entry` script) on a free port, its SQLite file in
    `data_dir`, on a fast sandbox unless `environment` says otherwise; ready once Streamlit's
    health check answers on 127.0.0.1. It binds `address`; with None, no `--server.address`
    is passed and `.streamlit/config.toml` decides, as with `make run`."""
    data_dir = Path(data_dir)
    port = port or free_port()
    settings = {
        **FAST_CONSOLE_ENV,
        "KBSYNC_DATABASE_URL": f"sqlite:///{data_dir / 'kbsync.sqlite3'}",
        **(environment or {}),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", entry,
        "--server.port", str(port),
        *(("--server.address", address) if address is not None else ()),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        *extra_args,
    ]
    server = RunningServer(
        name, command, clean_environment(settings), port, data_dir / "logs",
        is_ready=lambda running: http_answers(running.url + HEALTH_PATH),
    )
    server.data_dir = data_dir
    return server.start()


def start_sandbox_server(
    log_dir: Path, *, speed: float = 20.0, name: str = "sandbox", port: int | None = None
) -> RunningServer:
    """The sandbox's bedrock-agent over HTTP (kbsync_sandbox.server) on a free port.

    Point a kbsync process at it with KBSYNC_BACKEND=aws and
    AWS_ENDPOINT_URL_BEDROCK_AGENT=<its url>: unlike the embedded sandbox, it outlives them.
    """
    port = port or free_port()
    command = [
        sys.executable, "-m", "kbsync_sandbox.server",
        "--port", str(port), "--speed", str(speed),
    ]
    server = RunningServer(
        name, command, clean_environment({}), port, log_dir,
        # It binds its port only once the sandbox runs: accepting means ready.
        is_ready=lambda running: port_accepts(running.port),
    )
    return server.start()
