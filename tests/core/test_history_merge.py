import csv
import io
from datetime import UTC, datetime, timedelta

import pandas as pd

from kbsync_core.events import CREATED, log_event
from kbsync_core.history import aws_job_row, aws_job_rows, merge_history
from kbsync_core.history_table import history_csv, history_frame, is_sync
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget

TARGET = SyncTarget("us-east-1", "ABCDEFGHIJ", "KLMNOPQRST")
T0 = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)


def summary(job_id, status, minutes_after=0, duration=2, **extra):
    started = T0 + timedelta(minutes=minutes_after)
    return {
        "knowledgeBaseId": TARGET.knowledge_base_id,
        "dataSourceId": TARGET.data_source_id,
        "ingestionJobId": job_id,
        "status": status,
        "startedAt": started,
        "updatedAt": started + timedelta(minutes=duration, seconds=15),
        "statistics": extra.pop("statistics", {"numberOfDocumentsScanned": 20}),
        **extra,
    }


def local(execution_id, job_id, status, minutes_after=0, **fields):
    return Execution(
        id=execution_id,
        target=TARGET,
        description="from the console",
        status=status,
        started_at=(T0 + timedelta(minutes=minutes_after)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        job_id=job_id,
        events=[log_event(CREATED, T0)],
        **fields,
    )


def test_aws_row_has_the_seed_001_shape():
    [row] = aws_job_rows([summary("abc123xyz0", "COMPLETE")], retrieved_at=T0)
    assert row["id"] == "aws-abc123xyz0"
    assert row["source"] == "AWS"
    assert row["jobId"] == "abc123xyz0"
    assert row["status"] == "COMPLETADO"
    assert row["startedAt"] == "2024-03-05T14:30:00.000Z"
    assert row["finishedAt"] == "2024-03-05T14:32:15.000Z"
    assert row["logs"][0].endswith("] Historial recuperado desde AWS.")
    assert row["logs"][1:3] == ["Ingestion Job ID: abc123xyz0", "Estado AWS: COMPLETE"]
    assert row["logs"][3].startswith("Iniciado: 5/3/2024, ")
    assert row["logs"][4].startswith("Última actualización: 5/3/2024, ")


def test_a_running_aws_job_has_no_finish_time():
    row = aws_job_row(summary("RUNNING001", "IN_PROGRESS"))
    assert row["status"] == "EN_EJECUCION"
    assert "finishedAt" not in row


def test_a_local_sync_shows_once_with_awss_newer_state_and_its_own_logs():
    execution = local("local-1", "JOB0000001", ExecutionStatus.EN_EJECUCION, interrupted=True)
    aws_rows = [
        aws_job_row(summary("JOB0000001", "COMPLETE", statistics={"numberOfDocumentsScanned": 7})),
        aws_job_row(summary("JOB0000000", "FAILED", minutes_after=-60)),
    ]
    rows = merge_history([execution], aws_rows)
    assert [row["id"] for row in rows] == ["local-1", "aws-JOB0000000"]
    mine = rows[0]
    assert mine["source"] == "LOCAL"
    assert mine["status"] == "COMPLETADO"
    assert mine["statistics"] == {"numberOfDocumentsScanned": 7}
    assert mine["finishedAt"] == "2024-03-05T14:32:15.000Z"
    assert mine["logs"] == execution.logs


def test_a_final_local_state_is_kept():
    execution = local(
        "local-1", "JOB0000001", ExecutionStatus.DETENIDO,
        statistics={"numberOfDocumentsScanned": 3},
    )
    rows = merge_history([execution], [aws_job_row(summary("JOB0000001", "STOPPED"))])
    assert len(rows) == 1
    assert rows[0]["status"] == "DETENIDO"
    assert rows[0]["statistics"] == {"numberOfDocumentsScanned": 3}


def test_local_rows_without_a_job_and_aws_rows_interleave_newest_first():
    rows = merge_history(
        [local("conflicted", None, ExecutionStatus.FALLIDO, minutes_after=5)],
        [
            aws_job_row(summary("JOB0000010", "COMPLETE", minutes_after=10)),
            aws_job_row(summary("JOB0000001", "COMPLETE", minutes_after=1)),
        ],
    )
    assert [row["id"] for row in rows] == ["aws-JOB0000010", "conflicted", "aws-JOB0000001"]


def test_history_frame_types_and_derived_columns():
    rows = merge_history(
        [],
        [
            aws_job_row(
                summary(
                    "JOB0000001", "COMPLETE", duration=1,
                    statistics={
                        "numberOfDocumentsScanned": 20,
                        "numberOfNewDocumentsIndexed": 15,
                        "numberOfModifiedDocumentsIndexed": 3,
                        "numberOfDocumentsDeleted": 1,
                        "numberOfDocumentsFailed": 2,
                    },
                )
            ),
            aws_job_row(summary("JOB0000002", "IN_PROGRESS", minutes_after=5)),
        ],
    )
    frame = history_frame(rows)
    first = frame.set_index("jobId").loc["JOB0000001"]
    assert first["durationSeconds"] == 75
    assert first["documentsNew"] == 15
    assert first["documentsModified"] == 3
    assert first["trigger"] == "aws"
    assert first["documentsDeleted"] == 1
    assert first["documentsFailed"] == 2
    running = frame.set_index("jobId").loc["JOB0000002"]
    assert running["durationSeconds"] != running["durationSeconds"]  # NaN: not finished
    assert pd.isna(running["metadataScanned"])  # AWS has not counted it: "—", not 0
    assert str(frame["startedAt"].dtype).startswith("datetime64")
    assert history_frame([]).empty


def test_a_sync_whose_watching_failed_takes_awss_outcome():
    # The monitor gave up (an expired session token, say) while the job ran on to COMPLETE.
    execution = local("local-1", "JOB0000001", ExecutionStatus.FALLIDO)
    completed = summary("JOB0000001", "COMPLETE", statistics={"numberOfDocumentsScanned": 9})
    [row] = merge_history([execution], [aws_job_row(completed)])
    assert row["status"] == "COMPLETADO"
    assert row["statistics"] == {"numberOfDocumentsScanned": 9}
    assert row["logs"] == execution.logs


def test_a_local_attempt_without_a_job_that_failed_is_not_a_sync():
    refused = local("refused", None, ExecutionStatus.FALLIDO, conflict_job_id="JOB0000001")
    starting = local("starting", None, ExecutionStatus.PENDIENTE)
    failed_job = local("failed", "JOB0000002", ExecutionStatus.FALLIDO)
    rows = merge_history([refused, starting, failed_job], [])
    assert [row["id"] for row in rows if is_sync(row)] == ["starting", "failed"]
    aws_failed = aws_job_row(summary("JOB0000003", "FAILED"))
    assert is_sync(aws_failed)


def test_history_csv_rounds_durations_and_keeps_codes_words_and_reasons():
    rows = merge_history([], [aws_job_row(summary("JOB0000001", "FAILED", duration=0))])
    rows[0]["finishedAt"] = "2024-03-05T14:30:06.238Z"  # 6.238 s after it started
    frame = history_frame(rows)
    text = history_csv(
        frame, {"statusCode": "code", "status": "words", "durationSeconds": "seconds",
                "failureReasons": "reasons"},
        {"FALLIDO": "Failed"}.get, {"aws-JOB0000001": ["one", "two"]},
    )
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["code"], row["words"], row["seconds"]) == ("FALLIDO", "Failed", "6.2")
    assert row["reasons"] == "one | two"
    assert row["startedAt"] == "2024-03-05T14:30:00.000Z"
