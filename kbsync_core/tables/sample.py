"""The sandbox's sample source, `orders_db`: a SQLite file beside the default database with an
`orders` table of seed 004's columns (`product`, `description`, `created_at`) and a few more,
so `make run` shows table jobs with no database of one's own.

`created_at` is text as SQLite's CURRENT_TIMESTAMP writes it (`2025-06-19 18:00:00`): table
jobs compare it as the source stores it. `add_orders` adds rows (the console's button, the
API's call), the first of them with the same `created_at` as the newest row: what the
watermark's (filter column, primary key) tie-break is for.
"""

import random
import sqlite3
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from kbsync_core.tables.sources import Source

SAMPLE_SOURCE = "orders_db"
SAMPLE_TABLE = "orders"
SAMPLE_FILE = "orders_db.sqlite3"
SAMPLE_ROWS = 36
# The sample's rows start here, an hour apart (then those added follow the newest).
SAMPLE_START = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    product TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL,
    quantity INTEGER NOT NULL,
    in_stock BOOLEAN NOT NULL,
    customer_email TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""

_PRODUCTS = [
    (
        "Trail running shoes",
        "Lightweight shoes with a grippy sole for muddy mountain paths.",
        "footwear",
        89.90,
    ),
    (
        "Merino wool socks",
        "Three pairs of cushioned socks that keep feet dry on long walks.",
        "footwear",
        24.50,
    ),
    (
        "Insulated water bottle",
        "Keeps drinks cold for 24 hours or hot for 12; 750 ml.",
        "outdoor",
        29.00,
    ),
    ("Two-person tent", "Freestanding tent, 2.1 kg, pitches in five minutes.", "outdoor", 219.00),
    ("Headlamp", "Rechargeable headlamp, 400 lumens, red night mode.", "outdoor", 34.95),
    (
        "Rain jacket",
        "Waterproof breathable shell with taped seams and a packable hood.",
        "clothing",
        129.00,
    ),
    ("Fleece pullover", "Warm mid-layer fleece with a half zip.", "clothing", 59.00),
    ("Daypack 20 L", "Light daypack with a padded laptop sleeve and a rain cover.", "bags", 64.00),
    (
        "Trekking poles",
        "Collapsible aluminium poles with cork grips, sold in pairs.",
        "outdoor",
        74.50,
    ),
    ("Sunglasses", "Polarised category 3 lenses for bright snow and water.", "accessories", 49.00),
    ("Camping stove", "Compact gas stove that boils a litre in three minutes.", "outdoor", 45.00),
    (
        "Sleeping bag",
        "Down sleeping bag rated to -5 °C, packs to the size of a melon.",
        "outdoor",
        259.00,
    ),
]
_CUSTOMERS = ["ana.garcia", "luis.martin", "marta.lopez", "john.smith", "emma.jones", "li.wei"]


def sample_path(database_url: str) -> Path:
    """Beside kbsync's own database when it is a SQLite file; in `data/` beside a server
    database (replicas on one machine share it, as they share the database); in a temporary
    directory of its own beside an in-memory database, which lives and dies with its process
    (tests: none of them adds rows to another's sample)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return Path(tempfile.mkdtemp(prefix="kbsync-sample-")) / SAMPLE_FILE
        return Path(url.database).expanduser().resolve().parent / SAMPLE_FILE
    return Path("data").resolve() / SAMPLE_FILE


def sample_source(path: Path) -> Source:
    return Source(SAMPLE_SOURCE, f"sqlite:///{path}", origin="sample")


def _row(number: int, created_at: datetime, rng: random.Random) -> tuple:
    product, description, category, price = _PRODUCTS[number % len(_PRODUCTS)]
    quantity = rng.randint(1, 4)
    return (
        product,
        description,
        category,
        round(price * quantity, 2),
        quantity,
        rng.random() > 0.15,
        f"{_CUSTOMERS[number % len(_CUSTOMERS)]}@example.com" if number % 5 else None,
        created_at.strftime("%Y-%m-%d %H:%M:%S"),
    )


_INSERT = (
    "INSERT INTO orders (product, description, category, price, quantity, in_stock, "
    "customer_email, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def ensure_sample(path: Path) -> Source:
    """Create the sample file with its rows, unless it is there (two processes starting at
    once: the table is made and filled in one transaction, by whichever comes first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(CREATE_TABLE)
            if connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0:
                rng = random.Random(4)  # noqa: S311 - the same sample everywhere, not a secret
                connection.executemany(
                    _INSERT,
                    [_row(n, SAMPLE_START + timedelta(hours=n), rng) for n in range(SAMPLE_ROWS)],
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return sample_source(path)


def add_orders(path: Path, count: int = 3, *, now: datetime | None = None) -> list[int]:
    """Add `count` orders (1 to 100): the first with the newest row's `created_at` (the
    watermark's tie-break), the others at `now` (CURRENT_TIMESTAMP's text when not given) or
    later. Their order_ids."""
    count = max(1, min(int(count), 100))
    rng = random.Random()  # noqa: S311 - sample data, not a secret
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            newest, rows = connection.execute(
                "SELECT MAX(created_at), COUNT(*) FROM orders"
            ).fetchone()
            latest = datetime.strptime(newest, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            moment = (now or datetime.now(UTC)).replace(microsecond=0)
            later = max(moment, latest + timedelta(seconds=1))
            ids = []
            for index in range(count):
                created = latest if index == 0 else later + timedelta(seconds=index - 1)
                cursor = connection.execute(_INSERT, _row(rows + index, created, rng))
                ids.append(cursor.lastrowid)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return ids
