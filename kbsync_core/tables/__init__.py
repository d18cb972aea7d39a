"""Table jobs (seed 004, DESIGN.md "Content ingestion"): rows of a SQL table into a knowledge
base on a schedule, through content ingestion.

- sources.py: the named SQL sources (KBSYNC_SOURCES_FILE), read-only, their secrets redacted;
  the tables and columns the console offers.
- sample.py: the sandbox's sample source orders_db, and adding rows to it.
- validation.py: a job as POST /jobs/create gives it, every problem at once, the seed's codes.
- rows.py: the increment after a watermark, and the Document each row becomes.
- runner.py: one run: read, hand to ingestion, move the watermark only on success.
- jobs.py: TableJobs, the service (create, read, pause, resume, run now, delete) and the
  thread that fires each slot once across replicas.
"""
