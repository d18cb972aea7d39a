"""Helpers shared by test modules: real server processes to test over HTTP (servers.py), the
`python -m kbsync` command line (cli.py), API tokens (tokens.py), replica consoles and what they
did (replicas.py), a throwaway PostgreSQL (postgres.py), waiting (waiting.py)."""

from tests.support.servers import (
    RunningServer,
    ServerFailedToStart,
    free_port,
    start_console,
    start_sandbox_server,
)

__all__ = [
    "RunningServer",
    "ServerFailedToStart",
    "free_port",
    "start_console",
    "start_sandbox_server",
]
