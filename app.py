"""kbsync's entry: the console (st.navigation over app_pages/) and, beside it, the JSON API routes.

`streamlit run app.py` finds `app` below and serves it with uvicorn: it imports this file as the
module `app` (only the st.App is built), and runs it as the script `__main__` for each browser
session (only the console is drawn).
"""

import gc
import sys
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from kbsync_api.edges import HostAllowList, SecurityHeaders
from kbsync_api.routes import api_routes
from kbsync_core.config import ConfigurationError
from kbsync_core.errors import DatabaseError
from kbsync_core.runtime import close_kbsync, get_kbsync


@asynccontextmanager
async def lifespan(_app):
    # Open the registry at start-up (the database upgraded, runs nobody works taken over)
    # before anyone asks, and close it on the way out.
    try:
        get_kbsync()
    except (ConfigurationError, DatabaseError) as error:
        # An operator's mistake in the environment: their words, not a traceback.
        print(f"kbsync cannot start: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    # What start-up loaded (botocore's models, moto, Streamlit) lives as long as the process:
    # keep it out of the garbage collector's full passes, which otherwise paused every request
    # for ~100 ms (bench/bench_api.py).
    gc.freeze()
    yield None
    close_kbsync()


# The edges wrap everything the process serves, Streamlit's own pages and websocket included.
app = st.App(
    "app.py",
    lifespan=lifespan,
    routes=api_routes(),
    middleware=[Middleware(HostAllowList), Middleware(SecurityHeaders)],
)

if __name__ == "__main__":
    from kbsync_ui.shell import run_console

    run_console()
