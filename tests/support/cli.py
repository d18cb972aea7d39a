"""`python -m kbsync ...` run as an operator runs it, for the tests of the command line and the
tests that make tokens with it while a console runs.

    done = kbsync("db", "upgrade", database_url="sqlite:///...")   # a CompletedProcess
    done.returncode, done.stdout, done.stderr
"""

import subprocess
import sys

from tests.support.servers import REPO_ROOT, clean_environment


def kbsync(*arguments: str, database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kbsync", *arguments],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env=clean_environment({"KBSYNC_DATABASE_URL": database_url}),
    )
