"""The Sync page's live fragment alone: `bench_console.py`'s first figure, without the History
and memory parts (about a minute on 2 cores).

Run with `.venv/bin/python bench/bench_sync_fragment.py`. Same set-up as bench_console.py's
"refresh" (10,000 stored executions, 5 syncs really running on the sandbox, one of them watched
by the page), same measure: the server's work for one rerun of `st.fragment(run_every=2)` of
kbsync_ui/execution_panel.py, as its timer asks for it. The panel now also reads the run's stop
request (Stopping) on each refresh; the data source's state above it is not in the fragment
(a whole-page run draws it). Target: median < 25 ms.
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_console


def main() -> None:
    logging.disable(logging.WARNING)  # Streamlit's "No runtime found" outside a real server
    refresh = bench_console.bench_refresh()
    long_log = refresh["long_log"]
    full = refresh["full_page"]
    print(
        f"Sync page fragment refresh, {bench_console.STORED_EXECUTIONS:,} executions stored, "
        f"{bench_console.RUNNING} running: median {refresh['script_ms']:.1f} ms over "
        f"{bench_console.REFRESH_RUNS} reruns (target < 25 ms)\n"
        f"   fragment body {refresh['body_ms']:.1f} ms, its execution read "
        f"{refresh['read_ms']:.2f} ms; {refresh['bytes'] / 1024:.1f} KB of deltas\n"
        f"   an hour-long sync's log ({long_log['log_lines']} lines): "
        f"{long_log['script_ms']:.1f} ms\n"
        f"   for comparison, a whole Sync page rerun: {full['script_ms']:.1f} ms server"
    )
    if refresh["script_ms"] >= 25:
        raise SystemExit("over the 25 ms target")


if __name__ == "__main__":
    main()
