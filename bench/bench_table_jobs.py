"""One table job run over a 100,000-row table with 5,000 new rows (issue 13). Prints medians.

    select:  the increment's SELECT (rows after the watermark, ORDER BY filter column, key),
             all 5,000 rows fetched                                            (target < 1 s)
    read:    the same, each row made a Document (Markdown content, typed metadata): rows read
             per second, and the 100,000 rows of a first load
    run:     a whole run on the embedded sandbox (CUSTOM data source, sped up): read, stage,
             send 5,000 documents, wait for them, move the watermark

The source's table has an index on (created_at, order_id), as a table read incrementally by a
timestamp should. Run with `.venv/bin/python bench/bench_table_jobs.py [--source-url URL]`
(a SQLite file in a temporary folder by default; a postgresql+psycopg:// URL to an empty
database measures PostgreSQL).
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from kbsync_core.config import Settings
from kbsync_core.runtime import Kbsync
from kbsync_core.store.schema import table_jobs_table
from kbsync_core.tables.rows import Watermark, increment_query, read_rows, row_document
from kbsync_core.tables.sources import Source, Sources, parse_source_table

ROWS = 100_000
NEW_ROWS = 5_000
RUNS = 5
START = datetime(2025, 6, 19, tzinfo=UTC)
CONTENT = ["product", "description"]
TABLE = "orders_db.orders"


def build(url: str) -> None:
    """orders: 100,000 rows, created_at as SQLite's text timestamps (PostgreSQL: timestamptz),
    a few hundred rows per second so that many share a timestamp."""
    engine = sa.create_engine(url)
    text_time = engine.dialect.name == "sqlite"
    rng = random.Random(13)  # noqa: S311 - sample data
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS orders"))
        connection.execute(sa.text(
            "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, product TEXT NOT NULL, "
            "description TEXT NOT NULL, category TEXT, price REAL, quantity INTEGER, "
            f"created_at {'TEXT' if text_time else 'TIMESTAMPTZ'} NOT NULL)"
        ))  # fmt: skip
        connection.execute(
            sa.text("CREATE INDEX ix_orders_created ON orders (created_at, order_id)")
        )
        rows = []
        for n in range(1, ROWS + 1):
            moment = START + timedelta(seconds=n // 3)
            rows.append({
                "order_id": n, "product": f"Product {n % 500}",
                "description": f"Order {n}: {rng.choice(['blue', 'red'])} size "
                               f"{rng.randint(36, 46)}, shipped to {rng.choice(['ES', 'FR'])}.",
                "category": rng.choice(["footwear", "outdoor", "clothing"]),
                "price": round(rng.uniform(5, 300), 2), "quantity": rng.randint(1, 5),
                "created_at": moment.strftime("%Y-%m-%d %H:%M:%S") if text_time else moment,
            })  # fmt: skip
        connection.execute(
            sa.text(
                "INSERT INTO orders VALUES (:order_id, :product, :description, :category, "
                ":price, :quantity, :created_at)"
            ),
            rows,
        )
    engine.dispose()


def watermark_at(url: str, row: int) -> Watermark:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        created = connection.execute(
            sa.text("SELECT created_at FROM orders WHERE order_id = :n"), {"n": row}
        ).scalar_one()
    engine.dispose()
    return Watermark(created, (row,))


COLUMNS = ["order_id", "product", "description", "category", "price", "quantity", "created_at"]


def timed_read(sources: Sources, watermark: Watermark | None, documents: bool) -> tuple[float, int]:
    table = parse_source_table(TABLE)
    query = increment_query(table, COLUMNS, "created_at", ["order_id"], watermark)
    count = 0
    started = time.perf_counter()
    with sources.engine("orders_db").connect() as connection:
        for batch in read_rows(connection, query):
            count += len(batch)
            if documents:
                for row in batch:
                    row_document("orders", row, CONTENT, ["order_id"])
    return time.perf_counter() - started, count


def bench_run(source_url: str, work_dir: Path, watermark: Watermark) -> tuple[float, dict]:
    sources_file = work_dir / "sources.toml"
    sources_file.write_text(f'[sources.orders_db]\nurl = "{source_url}"\n')
    settings = Settings(
        backend="sandbox", database_url=f"sqlite:///{work_dir}/kbsync.sqlite3",
        poll_seconds=0.02, sandbox_speed=1000, ingest_rate=3000, sources_file=sources_file,
    )  # fmt: skip
    kbsync = Kbsync.open(settings)
    try:
        now = datetime.now(UTC)
        job = kbsync.table_jobs.create({
            "job_name": "bench", "source_table": TABLE, "kb_name": "sandbox-custom",
            "content_columns": CONTENT, "filter_column": "created_at", "interval": "1 HOUR",
            "start_time": (now + timedelta(hours=1)).isoformat(),
            "end_time": (now + timedelta(days=2)).isoformat(),
        })  # fmt: skip
        with kbsync.store.engine.begin() as connection:
            connection.execute(
                table_jobs_table.update()
                .where(table_jobs_table.c.id == job.id)
                .values(watermark=watermark.to_json())
            )
        started = time.perf_counter()
        run = kbsync.table_jobs.run_now(job.id)
        run = kbsync.table_jobs.wait(run.id, 600)
        seconds = time.perf_counter() - started
        return seconds, {
            "status": run.status, "rows_read": run.rows_read, "rows_sent": run.rows_sent,
            "error": run.error,
        }  # fmt: skip
    finally:
        kbsync.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-url", help="an empty PostgreSQL database for the table")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work_dir = Path(folder)
        url = arguments.source_url or f"sqlite:///{work_dir}/orders.sqlite3"
        print(f"building {ROWS:,} rows in {sa.engine.make_url(url).get_backend_name()}...")
        build(url)
        sources = Sources({"orders_db": Source("orders_db", url)})
        watermark = watermark_at(url, ROWS - NEW_ROWS)
        selects = [timed_read(sources, watermark, documents=False) for _ in range(RUNS)]
        reads = [timed_read(sources, watermark, documents=True) for _ in range(RUNS)]
        assert {count for _, count in selects + reads} == {NEW_ROWS}
        first = [timed_read(sources, None, documents=True) for _ in range(3)]
        assert {count for _, count in first} == {ROWS}
        select_s = statistics.median(s for s, _ in selects)
        read_s = statistics.median(s for s, _ in reads)
        first_s = statistics.median(s for s, _ in first)
        print(f"select the increment ({NEW_ROWS:,} of {ROWS:,} rows, all fetched): "
              f"median {select_s * 1000:.0f} ms over {RUNS} runs (target < 1 s)")  # fmt: skip
        print(f"read the increment into Documents: median {read_s * 1000:.0f} ms, "
              f"{NEW_ROWS / read_s:,.0f} rows/s")  # fmt: skip
        print(f"first load, {ROWS:,} rows into Documents: median {first_s:.2f} s, "
              f"{ROWS / first_s:,.0f} rows/s")  # fmt: skip
        sources.close()
        seconds, run = bench_run(url, work_dir, watermark)
        print(f"a whole run on the sandbox (CUSTOM, sped up 1000x): {seconds:.1f} s, {run}")


if __name__ == "__main__":
    main()
