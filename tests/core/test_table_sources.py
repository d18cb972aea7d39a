"""SQL sources of table jobs: the TOML file, read-only use of SQLite and PostgreSQL, a table job
on a real PostgreSQL source (timestamps tied, a schema of its own), and a source's password in
no error, log line or repr."""

import logging
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from kbsync_core.config import ConfigurationError
from kbsync_core.errors import SourceError
from kbsync_core.runtime import Kbsync
from kbsync_core.tables.sources import Source, Sources, load_sources, parse_source_table
from tests.core.test_table_jobs import RATE, SPEED, WAIT, body

PASSWORD = "Sup3r-S3cret/pw"  # what must never be shown
ENCODED_PASSWORD = "Sup3r-S3cret%2Fpw"


def write(tmp_path, text: str):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def test_the_sources_file_url_and_url_env(tmp_path):
    path = write(tmp_path, f"""
[sources.orders_db]
url = "sqlite:///{tmp_path}/orders.sqlite3"

[sources.crm]
url_env = "CRM_DB_URL"
""")  # fmt: skip
    url = f"postgresql+psycopg://reader:{ENCODED_PASSWORD}@db.example.com/crm"
    sources = load_sources(path, {"CRM_DB_URL": url})
    assert sources.names() == ["crm", "orders_db"]
    crm = sources.get("crm")
    assert crm.url == url and crm.origin == "env"
    assert PASSWORD not in repr(crm) and ENCODED_PASSWORD not in repr(crm)
    assert crm.shown_url == "postgresql+psycopg://reader:***@db.example.com/crm"
    assert crm.redact(f"failed for {url} with {PASSWORD}") == "failed for *** with ***"
    # A driver's error quoting the URL: redacted on its way out.
    with pytest.raises(SourceError) as quoted, sources.errors_redacted("crm"):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception(f"cannot reach {url}"))
    assert str(quoted.value) == "Source crm could not be read: cannot reach ***"
    with pytest.raises(ConfigurationError, match="'CRM_DB_URL', which is not set"):
        load_sources(path, {})
    both = write(tmp_path, '[sources.x]\nurl = "sqlite://"\nurl_env = "X"\n')
    with pytest.raises(ConfigurationError, match="either url or url_env"):
        load_sources(both, {})
    bad = write(tmp_path, f'[sources.x]\nurl = "not a url :{PASSWORD}"\n')
    with pytest.raises(ConfigurationError) as refusal:
        load_sources(bad, {})
    assert PASSWORD not in str(refusal.value)
    assert parse_source_table("orders_db.sales.orders").schema == "sales"
    assert parse_source_table("orders_db.") is None


def test_sqlite_sources_are_opened_read_only(tmp_path):
    path = tmp_path / "orders.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, product TEXT)")
        connection.commit()
    sources = Sources({"orders_db": Source("orders_db", f"sqlite:///{path}")})
    assert sources.tables("orders_db") == ["orders_db.orders"]
    with (
        pytest.raises(sa.exc.OperationalError, match="readonly"),
        sources.engine("orders_db").begin() as connection,
    ):
        connection.execute(sa.text("INSERT INTO orders (product) VALUES ('x')"))
    sources.close()


@pytest.fixture
def orders_pg(postgres_url):
    """A PostgreSQL orders table in schema `shop`, its URL with a password (the test cluster
    trusts 127.0.0.1, so any password is taken, as a real one would be checked)."""
    url = sa.engine.make_url(postgres_url).set(password=PASSWORD)
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as connection:
        connection.execute("CREATE SCHEMA shop")
        connection.execute(
            "CREATE TABLE shop.orders (id SERIAL PRIMARY KEY, product TEXT NOT NULL, "
            "description TEXT NOT NULL, price NUMERIC(10, 2), paid BOOLEAN, "
            "created_at TIMESTAMPTZ NOT NULL)"
        )
        for n in range(20):
            connection.execute(
                "INSERT INTO shop.orders (product, description, price, paid, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (f"Product {n}", f"About product {n}.", 10 + n / 4, n % 2 == 0,
                 datetime(2025, 6, 19, 9, tzinfo=UTC) + timedelta(minutes=n // 2)),
            )  # fmt: skip
    return url.render_as_string(hide_password=False)


def pg_insert(url: str, *rows):
    plain = sa.engine.make_url(url).set(drivername="postgresql", password=None)
    with psycopg.connect(plain.render_as_string(hide_password=False)) as connection:
        for product, created_at in rows:
            connection.execute(
                "INSERT INTO shop.orders (product, description, price, paid, created_at) "
                "VALUES (%s, 'Added.', 1.5, true, %s)",
                (product, created_at),
            )


def test_a_job_on_a_postgresql_source(tmp_path, fast_settings, orders_pg, monkeypatch, caplog):
    monkeypatch.setenv("ORDERS_PG_URL", orders_pg)
    sources_file = write(tmp_path, '[sources.shop_db]\nurl_env = "ORDERS_PG_URL"\n')
    settings = replace(fast_settings, sandbox_speed=SPEED, ingest_rate=RATE,
                       sources_file=sources_file)  # fmt: skip
    kbsync = Kbsync.open(settings)
    caplog.set_level(logging.INFO)
    try:
        jobs = kbsync.table_jobs
        assert "shop_db.shop.orders" in jobs.tables("shop_db")
        columns = {c.name: c for c in jobs.columns("shop_db.shop.orders")}
        assert columns["id"].primary_key and "TIMESTAMP" in columns["created_at"].type
        job = jobs.create(body(source_table="shop_db.shop.orders"))
        first = jobs.wait(jobs.run_now(job.id).id, WAIT)
        assert (first.status, first.rows_read, first.rows_sent) == ("completed", 20, 20), first
        watermark = jobs.body(job.id)["watermark"]
        assert watermark == {"filter_value": "2025-06-19T09:09:00+00:00", "key": [20]}
        document = {d["id"]: d for d in kbsync.sandbox.documents("SANDBOXDS3")}["orders-3"]
        assert document["attributes"]["paid"] is True  # id 3 is the third row, n = 2
        assert document["attributes"]["price"] == 10.5
        assert document["attributes"]["created_at"] == "2025-06-19T09:01:00+00:00"
        # One tied with the last loaded row, one later: exactly those two.
        pg_insert(orders_pg, ("Tied", datetime(2025, 6, 19, 9, 9, tzinfo=UTC)),
                  ("Later", datetime(2025, 6, 20, tzinfo=UTC)))  # fmt: skip
        second = jobs.wait(jobs.run_now(job.id).id, WAIT)
        assert (second.status, second.rows_read, second.rows_sent) == ("completed", 2, 2)
        # Read-only: the source's sessions refuse to write.
        with (
            pytest.raises(sa.exc.InternalError, match="read-only"),
            jobs.sources.engine("shop_db").begin() as connection,
        ):
            connection.execute(sa.text("DELETE FROM shop.orders"))
    finally:
        kbsync.close()
    assert PASSWORD not in caplog.text and ENCODED_PASSWORD not in caplog.text


def test_a_sources_password_is_in_no_error_and_no_log(tmp_path, fast_settings, caplog):
    caplog.set_level(logging.INFO)
    unreachable = f"postgresql+psycopg://reader:{ENCODED_PASSWORD}@127.0.0.1:9/shop"
    sources_file = write(tmp_path, f'[sources.shop_db]\nurl = "{unreachable}"\n')
    kbsync = Kbsync.open(replace(fast_settings, sources_file=sources_file))
    try:
        with pytest.raises(SourceError) as refusal:
            kbsync.table_jobs.tables("shop_db")
        assert "Source shop_db could not be read" in str(refusal.value)
        refused = kbsync.table_jobs.create(body(source_table="shop_db.orders"))
    except Exception as error:
        refused = error
    finally:
        kbsync.close()
    assert refused.code == "INVALID_TABLE", refused
    shown = str(refusal.value) + " ".join(refused.details) + caplog.text
    assert "could not be read" in " ".join(refused.details)
    assert PASSWORD not in shown and ENCODED_PASSWORD not in shown


def test_the_sources_file_setting(tmp_path):
    from kbsync_core.config import load_settings

    with pytest.raises(ConfigurationError, match="KBSYNC_SOURCES_FILE names"):
        load_settings({"KBSYNC_SOURCES_FILE": str(tmp_path / "missing.toml")})
    path = write(tmp_path, "[sources]\n")
    assert load_settings({"KBSYNC_SOURCES_FILE": str(path)}).sources_file == path
    broken = write(tmp_path, "[sources.orders_db\n")
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_sources(broken)
