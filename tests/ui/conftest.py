"""AppTest runs the console's scripts in this process, on a sandbox Kbsync made for the test."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.runtime import Kbsync, install_kbsync

APP = str(Path(__file__).resolve().parents[2] / "app.py")
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "uiTestSecret/DoNotShow+0123456789abcdefgh"


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(fast_settings)
    install_kbsync(kbsync)
    yield kbsync
    install_kbsync(None)
    kbsync.close()


@pytest.fixture
def console(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


def sign_in(at: AppTest) -> AppTest:
    at.text_input(key="connection_access_key_id").input(ACCESS_KEY_ID)
    at.text_input(key="connection_secret_access_key").input(SECRET)
    return at.run()
