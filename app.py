"""kbsync's entry: the console (st.navigation over app_pages/) and, beside it, the JSON API routes.

`streamlit run app.py` finds `app` below and serves it with uvicorn: it imports this file as the
module `app` (only the st.App is built), and runs it as the script `__main__` for each browser
session (only the console is drawn).
"""

import gc
from contextlib import asynccontextmanager

import streamlit as st

from kbsync_api.routes import api_routes
from kbsync_core.runtime import close_kbsync, get_kbsync


@asynccontextmanager
async def lifespan(_app):
    # Open the registry at start-up, so executions left running by a previous process are
    # resumed (or marked interrupted) before anyone asks, and close it on the way out.
    get_kbsync()
    # What start-up loaded (botocore's models, moto, Streamlit) lives as long as the process:
    # keep it out of the garbage collector's full passes, which otherwise paused every request
    # for ~100 ms (bench/bench_api.py).
    gc.freeze()
    yield None
    close_kbsync()


app = st.App("app.py", lifespan=lifespan, routes=api_routes())

if __name__ == "__main__":
    from kbsync_ui.shell import run_console

    run_console()
