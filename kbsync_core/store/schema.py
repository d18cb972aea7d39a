"""The tables as the newest migration leaves them; the store's queries are written against these.

Changing a table here means writing a migration (store/migrations/versions) that takes every
earlier database to the same shape.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

# Every piece of work kbsync does against a knowledge base, whatever its kind: who works it
# (owner and lease), whether it is still to be worked, and what was asked of it (a stop). The
# kind's own details live in the kind's table under the same id (a sync: `executions`).
runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    # active: to be worked (by its lease holder, or by whoever takes it over once the lease
    # expires); interrupted: nobody could work it, it waits for credentials; ended.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("owner_id", sa.String(128)),
    # Milliseconds since the epoch, by the owner's clock (replicas' clocks must agree to well
    # within a lease period, as NTP keeps them).
    sa.Column("lease_expires_ms", sa.BigInteger),
    sa.Column("stop_requested_at", sa.String(24)),
    # Where the credentials that work the run come from, never the credentials themselves:
    # "keys" (an operator's, held in memory by one replica), "default" (boto3's chain),
    # "profile" (a named profile, `profile_name`), "connection" (the connection `connection_id`,
    # whose credentials any replica can get).
    sa.Column("credential_source", sa.String(16), nullable=False),
    sa.Column("profile_name", sa.String(128)),
    sa.Column("created_at", sa.String(24), nullable=False),
    # The connection the run works with (credential_source "connection"); no foreign key: a
    # connection deleted later leaves its runs' history as it was.
    sa.Column("connection_id", sa.String(64)),
    sa.Index("ix_runs_state_lease", "state", "lease_expires_ms"),
)

executions_table = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("knowledge_base_id", sa.String(16), nullable=False),
    sa.Column("data_source_id", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # ISO 8601 UTC strings of one fixed width, so they sort as time does.
    sa.Column("started_at", sa.String(24), nullable=False),
    sa.Column("finished_at", sa.String(24)),
    sa.Column("updated_at", sa.String(24)),
    sa.Column("job_id", sa.String(16)),
    sa.Column("aws_status", sa.String(16)),
    sa.Column("statistics", sa.JSON, nullable=False),
    sa.Column("failure_reasons", sa.JSON, nullable=False),
    sa.Column("conflict_job_id", sa.String(16)),
    # Who started it: console, api, schedule, aws or ingestion (kbsync_core.models.TRIGGERS);
    # NULL for executions stored before kbsync recorded it (migration 0005): unknown.
    sa.Column("trigger", sa.String(16)),
    # The schedule that started it (trigger "schedule"); no foreign key: deleting a schedule
    # leaves its syncs' history as it was.
    sa.Column("schedule_id", sa.String(36)),
    sa.Index(
        "ix_executions_target_started",
        "region", "knowledge_base_id", "data_source_id", "started_at",
    ),
    sa.Index("ix_executions_job_id", "job_id"),
    sa.Index("ix_executions_status", "status"),
)

execution_logs_table = sa.Table(
    "execution_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "execution_id",
        sa.String(36),
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # One event of the execution's log (kbsync_core/events.py): when (ISO 8601 UTC, as
    # iso_utc writes it), which event of the catalogue, and its values (a JSON object). Not
    # null in every row kbsync writes; nullable only because SQLite adds columns no other way.
    sa.Column("at", sa.String(24)),
    sa.Column("event", sa.String(32)),
    sa.Column("event_values", sa.JSON),
)

# API tokens (`python -m kbsync tokens`). Only the token's SHA-256 is kept: the token itself is
# shown once, when it is made. A revoked token keeps its row (listed as revoked), so its name
# stays taken and the API stays guarded once any token was ever made.
api_tokens_table = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    # JSON lists: scopes (e.g. ["sync:read"], ["*"]), and the connections the token is limited
    # to (null: every connection).
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("connections", sa.JSON),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("expires_at", sa.String(24)),
    sa.Column("last_used_at", sa.String(24)),
    sa.Column("revoked_at", sa.String(24)),
)

# Connections: saved targets an operator names with a slug. `credentials` says where the
# server's identity comes from ({"type": "default"}, {"type": "profile", "profile": ...},
# {"type": "role", "roleArn": ..., "externalId": ..., "sessionName": ...}): never a secret.
connections_table = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("knowledge_base_id", sa.String(16), nullable=False),
    sa.Column("data_source_id", sa.String(16), nullable=False),
    sa.Column("credentials", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
)

# Webhooks: URLs notified when a sync of a connection's data source ends (kbsync_core/
# webhooks.py). The URL is a secret (whoever has it posts to the channel): stored encrypted
# (kbsync_core/secretbox.py), with a hint that names it without revealing it.
webhooks_table = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "connection_id",
        sa.String(64),
        sa.ForeignKey("connections.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("url_encrypted", sa.Text, nullable=False),
    sa.Column("url_hint", sa.String(200), nullable=False),
    # Failed and stopped syncs are always notified; completed ones only when this is true.
    sa.Column("notify_completed", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(24), nullable=False),
)

# One message to send: a webhook, a sync's execution and what happened to it (failed, stopped,
# completed). Unique, so that every replica may enqueue it and it is sent once; claimed by a
# conditional update (owner, claim expiry), so a replica that died mid-delivery is taken over.
webhook_deliveries_table = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "webhook_id",
        sa.String(36),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("execution_id", sa.String(36), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    # pending (to send, at next_attempt_ms), delivered, failed (for good).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
    sa.Column("owner_id", sa.String(128)),
    sa.Column("claim_expires_ms", sa.BigInteger),
    # The last attempt's HTTP status and error, never the URL.
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
    sa.UniqueConstraint("webhook_id", "execution_id", "event", name="uq_webhook_deliveries_once"),
    sa.Index("ix_webhook_deliveries_state_next", "state", "next_attempt_ms"),
)

# Schedules: syncs a connection runs by itself (kbsync_core/schedule_spec.py says when).
# `next_slot_at` is the next slot to fire, NULL while paused or once the window ended: a tick
# is one indexed query for the rows whose slot is due. `origin` says who made it: "console",
# "api" (/api/schedules) or "sync_api" (seed 003's PUT /api/sync/schedules, which keeps one
# per connection and finds it by this).
schedules_table = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("connection_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("expression", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("start_at", sa.String(24)),
    sa.Column("end_at", sa.String(24)),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("next_slot_at", sa.String(24)),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
    sa.Index("ix_schedules_next_slot_at", "next_slot_at"),
    sa.Index("ix_schedules_connection_id", "connection_id"),
)

# One row per slot a replica claimed: the UNIQUE (schedule_id, slot_at) is the claim, so a
# slot fires once across replicas and restarts. `outcome`: starting (claimed, being started),
# retrying (AWS's quota was full; `retry_at` says when to try again), started (its execution
# is `execution_id`), skipped (`details` says why: the running job, the quota), failed.
# `retry_at` is also set while starting: a replica that died mid-start leaves it due, and the
# next tick anywhere starts it again with the slot's own clientToken.
schedule_firings_table = sa.Table(
    "schedule_firings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "schedule_id",
        sa.String(36),
        sa.ForeignKey("schedules.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("slot_at", sa.String(24), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("execution_id", sa.String(36)),
    sa.Column("claimed_by", sa.String(128), nullable=False),
    sa.Column("claimed_at", sa.String(24), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
    sa.Column("retry_at", sa.String(24)),
    sa.Column("attempts", sa.Integer, nullable=False),
    # JSON: the running job that made it skip, how many slots a catch-up stood for and since
    # when, the last error.
    sa.Column("details", sa.JSON, nullable=False),
    sa.UniqueConstraint("schedule_id", "slot_at", name="uq_schedule_firings_slot"),
    sa.Index("ix_schedule_firings_retry_at", "retry_at"),
)

# Content ingestion (seed 002; kbsync_core/ingestion/). A job is a run of kind "ingestion" (same
# id in `runs`): its target, how it goes into Bedrock (`data_source_type`: CUSTOM through the
# document API, S3 through the bucket and one sync), its status (pending, processing, completed,
# failed, cancelled) and counters kept as records end, so a read never counts 10,000 rows. The
# original payload is kept zlib-compressed for `includePayload`.
ingestion_jobs_table = sa.Table(
    "ingestion_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("knowledge_base_id", sa.String(16), nullable=False),
    sa.Column("data_source_id", sa.String(16), nullable=False),
    sa.Column("data_source_type", sa.String(16), nullable=False),
    # The connection it acts through; NULL: a knowledge base named by id, with the server's
    # own identity. No foreign key: a connection deleted later leaves its jobs' history.
    sa.Column("connection_id", sa.String(64)),
    sa.Column("adapter", sa.String(64), nullable=False),
    sa.Column("force", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("started_at", sa.String(24)),
    sa.Column("completed_at", sa.String(24)),
    sa.Column("updated_at", sa.String(24), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("processed", sa.Integer, nullable=False),
    sa.Column("successful", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    # Of the successful: documents created or replaced, and documents deleted.
    sa.Column("entries_created", sa.Integer, nullable=False),
    sa.Column("entries_deleted", sa.Integer, nullable=False),
    # Records AWS accepted (CUSTOM: a batch answered; S3: objects written or removed), so a
    # cancelled job can say how many went in.
    sa.Column("sent", sa.Integer, nullable=False),
    # S3 path: the sync execution (`executions.id`) that ingests what was written.
    sa.Column("sync_execution_id", sa.String(36)),
    sa.Column("error", sa.Text),
    sa.Column("payload", sa.LargeBinary),
    sa.Index("ix_ingestion_jobs_created_at", "created_at"),
    sa.Index("ix_ingestion_jobs_status_created_at", "status", "created_at"),
)

# Every record of a job, staged with the job before any is sent: the Document (JSON), its hash,
# and where it is: staged (not yet compared with the stored hash), queued (to send: `action`
# ingest or delete), batched (in batch `batch`, whose clientToken the job id and the number
# derive: the composition is stored before the batch is sent, so a retry or a takeover sends
# the same batch again), sent (AWS accepted it; its final status is awaited), done (`status`
# success, failed or skipped; `entry_id` the document's identifier in Bedrock).
ingestion_records_table = sa.Table(
    "ingestion_records",
    metadata,
    sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("ingestion_jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source_id", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16)),
    sa.Column("batch", sa.Integer),
    sa.Column("status", sa.String(16)),
    sa.Column("entry_id", sa.Text),
    sa.Column("aws_status", sa.String(32)),
    sa.Column("error", sa.Text),
    sa.Index("ix_ingestion_records_job_state", "job_id", "state", "position"),
)

# What each document kbsync put into a data source was made of, when it was last indexed: the
# key of deduplication (sqlite-utils' hash ids are the model). Keyed by the SHA-256 of the
# document id (an id may be 2,048 characters, past what an index entry holds), the id kept too.
ingestion_hashes_table = sa.Table(
    "ingestion_hashes",
    metadata,
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("knowledge_base_id", sa.String(16), primary_key=True),
    sa.Column("data_source_id", sa.String(16), primary_key=True),
    sa.Column("document_digest", sa.String(64), primary_key=True),
    sa.Column("document_id", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
)

# Table jobs (seed 004; kbsync_core/tables/): rows of a SQL source's table into a knowledge base,
# on a schedule. `row_id_columns` is the table's primary key as found when the job was made (the
# watermark's tie-break, and the documents' ids); the target is resolved at creation (a
# connection, or a knowledge base named with its one data source that accepts documents).
# `next_slot_at` is the next slot to fire, NULL while paused or once the window ended.
# `watermark` (JSON: the filter column's and the key's values of the last row loaded, typed)
# moves only in the transaction that records a successful run. `running_run_id` is set while a
# run is under way (a conditional update: one run at a time, across replicas).
table_jobs_table = sa.Table(
    "table_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("source_table", sa.String(400), nullable=False),
    sa.Column("content_columns", sa.JSON, nullable=False),
    sa.Column("filter_column", sa.String(200), nullable=False),
    sa.Column("row_id_columns", sa.JSON, nullable=False),
    sa.Column("kb_name", sa.String(200), nullable=False),
    sa.Column("connection_id", sa.String(64)),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("knowledge_base_id", sa.String(16), nullable=False),
    sa.Column("data_source_id", sa.String(16), nullable=False),
    sa.Column("interval", sa.String(32), nullable=False),
    sa.Column("start_at", sa.String(24), nullable=False),
    sa.Column("end_at", sa.String(24), nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("next_slot_at", sa.String(24)),
    sa.Column("watermark", sa.JSON),
    sa.Column("running_run_id", sa.String(36)),
    sa.Column("created_at", sa.String(24), nullable=False),
    sa.Column("updated_at", sa.String(24), nullable=False),
    sa.Index("ix_table_jobs_next_slot_at", "next_slot_at"),
)

# One row per run of a table job: the UNIQUE (job_id, slot_at) is a slot's claim, so a slot runs
# once across replicas and restarts (a "run now" is a slot of its own moment). `status`: running
# (rows being read, or its ingestion job under way), then the ingestion job's final status
# (completed, failed, cancelled), or skipped (nothing new, or another run under way: `error`
# says which). `heartbeat_at` is renewed while it runs: a run whose replica died is finished by
# another. `watermark_after` is where the watermark goes if its ingestion job succeeds.
table_job_runs_table = sa.Table(
    "table_job_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("table_jobs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("slot_at", sa.String(24), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_by", sa.String(128), nullable=False),
    sa.Column("started_at", sa.String(24), nullable=False),
    sa.Column("heartbeat_at", sa.String(24)),
    sa.Column("finished_at", sa.String(24)),
    sa.Column("ingestion_job_id", sa.String(36)),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_sent", sa.Integer, nullable=False),
    sa.Column("rows_skipped", sa.Integer, nullable=False),
    sa.Column("rows_failed", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("watermark_before", sa.JSON),
    sa.Column("watermark_after", sa.JSON),
    sa.UniqueConstraint("job_id", "slot_at", name="uq_table_job_runs_slot"),
    sa.Index("ix_table_job_runs_job_started", "job_id", "started_at"),
    sa.Index("ix_table_job_runs_status_heartbeat", "status", "heartbeat_at"),
)
