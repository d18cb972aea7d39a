"""Helpers shared by test folders: real server processes to test over HTTP (servers.py)."""

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
