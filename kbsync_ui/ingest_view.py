"""The Ingest page's pieces (seed 002 in the console): a new job (connection, adapter, a JSON
file or pasted records, a preview before sending), the job on screen (a live progress bar with
its counts, every record's result, filterable to failures, Cancel), and the past jobs.

The preview is the adapter's own reading of the payload (kbsync_core/ingestion/adapters.py),
so what it refuses is what sending would refuse, without making a job; it is kept per payload
in the session, because content-hub's HTML takes ~3.7 ms an item to read. The live part is a
fragment that rereads the job from the store every CHECK_SECONDS while it runs.
"""

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from kbsync_core.errors import (
    AwsRequestError,
    IngestionInvalidError,
    IngestionJobFinishedError,
    IngestionTargetNotFoundError,
)
from kbsync_core.ingestion.adapters import adapter, adapters
from kbsync_core.ingestion.documents import Document, RecordProblem
from kbsync_core.runtime import Kbsync
from kbsync_core.store.ingestion import FAILED, FINAL_JOB_STATUSES, IngestionJobRecord
from kbsync_ui.i18n import Texts, format_moment

TEXTS = Texts(
    {
        "new_job": ("New ingestion job", "Nuevo trabajo de ingesta"),
        "connection": ("Connection", "Conexión"),
        "adapter": ("Format (adapter)", "Formato (adaptador)"),
        "file": ("JSON file", "Archivo JSON"),
        "paste": ("…or paste the records (JSON)", "…o pegue los registros (JSON)"),
        "force": (
            "Send every record, even unchanged ones (force)",
            "Enviar todos los registros, también los que no cambiaron (force)",
        ),
        "no_connections": (
            "Add a connection first: jobs put documents into its data source.",
            "Añada antes una conexión: los trabajos ponen documentos en su origen de datos.",
        ),
        "not_json": ("That is not JSON: {error}", "Eso no es JSON: {error}"),
        "preview": ("Preview", "Vista previa"),
        "records": ("**{count:,}** records", "**{count:,}** registros"),
        "problems": (
            "{count:,} problems: nothing is sent until they are fixed.",
            "{count:,} problemas: no se envía nada hasta corregirlos.",
        ),
        "first_records": ("First {count} records", "Primeros {count} registros"),
        "send": ("Send", "Enviar"),
        "sent": (
            "Job {id} created: {count:,} records.",
            "Trabajo {id} creado: {count:,} registros.",
        ),
        "refused": ("Not sent: {reason}", "No enviado: {reason}"),
        "job": ("Job {id}", "Trabajo {id}"),
        "where": (
            "{adapter} into {target} ({kind}) · created {created}",
            "{adapter} hacia {target} ({kind}) · creado {created}",
        ),
        "counts": (
            "{processed:,} of {total:,} processed · {successful:,} successful · "
            "{failed:,} failed · {skipped:,} skipped (unchanged)",
            "{processed:,} de {total:,} procesados · {successful:,} correctos · "
            "{failed:,} fallidos · {skipped:,} omitidos (sin cambios)",
        ),
        "times": ("Started {started} · ended {ended}", "Iniciado {started} · terminado {ended}"),
        "cancel": ("Cancel", "Cancelar"),
        "cancel_requested": (
            "Cancel requested: the job stops sending; what it sent stays.",
            "Cancelación pedida: el trabajo deja de enviar; lo enviado se queda.",
        ),
        "already_ended": ("The job had already ended.", "El trabajo ya había terminado."),
        "only_failures": ("Only failures", "Solo fallos"),
        "no_results": ("No record has a result yet.", "Ningún registro tiene resultado aún."),
        "past": ("Past ingestion jobs", "Trabajos de ingesta anteriores"),
        "none_yet": ("No ingestion jobs yet.", "Aún no hay trabajos de ingesta."),
        "open": ("Open job", "Abrir trabajo"),
        "col_record": ("Record", "Registro"),
        "col_title": ("Title", "Título"),
        "col_type": ("Type", "Tipo"),
        "col_deleted": ("Deleted", "Eliminado"),
        "col_characters": ("Characters", "Caracteres"),
        "col_attributes": ("Attributes", "Atributos"),
        "col_notes": ("Left out", "Omitido"),
        "col_path": ("Where", "Dónde"),
        "col_problem": ("Problem", "Problema"),
        "col_status": ("Status", "Estado"),
        "col_entry": ("Entry id", "Id de entrada"),
        "col_aws": ("Bedrock status", "Estado en Bedrock"),
        "col_error": ("Error", "Error"),
        "col_created": ("Created", "Creado"),
        "col_target": ("Into", "Hacia"),
        "col_adapter": ("Adapter", "Adaptador"),
        "col_progress": ("Processed", "Procesados"),
        "col_successful": ("Successful", "Correctos"),
        "col_failed": ("Failed", "Fallidos"),
        "col_skipped": ("Skipped", "Omitidos"),
        "col_ended": ("Ended", "Terminado"),
        "yes": ("yes", "sí"),
        "no": ("no", "no"),
        "status_pending": ("pending", "pendiente"),
        "status_processing": ("processing", "procesando"),
        "status_completed": ("completed", "completado"),
        "status_failed": ("failed", "fallido"),
        "status_cancelled": ("cancelled", "cancelado"),
        "status_success": ("success", "correcto"),
        "status_skipped": ("skipped", "omitido"),
    }
)
CHECK_SECONDS = 0.5  # how often a running job's panel rereads it
PREVIEW_ROWS = 10
PAST_JOBS = 50
KEY = "ingest_"
PREVIEW_KEY = KEY + "preview"
PICK_KEY = KEY + "pick"
PICK_NEXT_KEY = KEY + "pick_next"
NOTICE_KEY = KEY + "notice"


@dataclass(frozen=True)
class Preview:
    """What sending the payload would do, read by the adapter: how many records, the first
    ones as a table, every problem with its path (any problem refuses the job)."""

    count: int
    rows: list[dict]
    problems: list[RecordProblem]


def key(name: str) -> str:
    return KEY + name


STATUSES = ("pending", "processing", "completed", "failed", "cancelled", "success", "skipped")


def status_words(status: str | None) -> str:
    """A job's or a record's status in the operator's language."""
    return TEXTS(f"status_{status}") if status in STATUSES else (status or "—")


def preview_of(adapter_name: str, data) -> Preview:
    documents, problems = adapter(adapter_name).read(data)
    return Preview(len(documents), [preview_row(d) for d in documents[:PREVIEW_ROWS]], problems)


def preview_row(document: Document) -> dict:
    return {
        TEXTS("col_record"): document.id,
        TEXTS("col_title"): document.title or "",
        TEXTS("col_type"): document.content_type,
        TEXTS("col_deleted"): TEXTS("yes") if document.deleted else TEXTS("no"),
        TEXTS("col_characters"): len(document.content),
        TEXTS("col_attributes"): len(document.metadata),
        TEXTS("col_notes"): "; ".join(document.problems),
    }


def render_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")


# -- a new job -------------------------------------------------------------------------------


def render_new_job(kbsync: Kbsync) -> None:
    """Connection, adapter, payload, preview, Send (operators and admins only: the page
    decides)."""
    st.subheader(TEXTS("new_job"))
    connections = {connection.id: connection for connection in kbsync.connections.list()}
    if not connections:
        st.info(TEXTS("no_connections"))
        return
    left, right = st.columns(2)
    connection_id = left.selectbox(
        TEXTS("connection"),
        list(connections),
        key=key("connection"),
        format_func=lambda identifier: f"{connections[identifier].name} ({identifier})",
    )
    adapter_name = right.selectbox(
        TEXTS("adapter"), [a.name for a in adapters()], key=key("adapter")
    )
    uploaded = st.file_uploader(TEXTS("file"), type=["json"], key=key("file"))
    pasted = st.text_area(TEXTS("paste"), key=key("paste"), height=150)
    raw = uploaded.getvalue() if uploaded is not None else pasted.strip().encode()
    if not raw:
        return
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        st.error(TEXTS("not_json", error=error), icon=":material/error:")
        return
    preview = _kept_preview(adapter_name, raw, data)
    render_preview(preview)
    force = st.checkbox(TEXTS("force"), key=key("force"))
    if not st.button(
        TEXTS("send"),
        type="primary",
        key=key("send"),
        disabled=bool(preview.problems) or preview.count == 0,
        icon=":material/upload:",
    ):
        return
    try:
        job = kbsync.ingestion.create(connection_id, adapter_name, data, force=force)
    except IngestionInvalidError as error:
        st.error(TEXTS("refused", reason=error.message), icon=":material/error:")
        render_problems(error.problems)
        return
    except (IngestionTargetNotFoundError, AwsRequestError) as error:
        st.error(TEXTS("refused", reason=error), icon=":material/error:")
        return
    st.session_state[NOTICE_KEY] = TEXTS("sent", id=job.id, count=job.record_count)
    st.session_state[PICK_NEXT_KEY] = job.id
    st.rerun()


def _kept_preview(adapter_name: str, raw: bytes, data) -> Preview:
    """The preview of this payload with this adapter, read once per session."""
    fingerprint = (adapter_name, hashlib.sha256(raw).hexdigest())
    kept = st.session_state.get(PREVIEW_KEY)
    if kept is None or kept[0] != fingerprint:
        kept = (fingerprint, preview_of(adapter_name, data))
        st.session_state[PREVIEW_KEY] = kept
    return kept[1]


def render_preview(preview: Preview) -> None:
    st.markdown(f"**{TEXTS('preview')}** · {TEXTS('records', count=preview.count)}")
    if preview.problems:
        st.error(TEXTS("problems", count=len(preview.problems)), icon=":material/error:")
        render_problems(preview.problems)
    if preview.rows:
        st.caption(TEXTS("first_records", count=len(preview.rows)))
        st.dataframe(pd.DataFrame(preview.rows), hide_index=True, width="stretch")


def render_problems(problems: list[RecordProblem]) -> None:
    if problems:
        rows = [{TEXTS("col_path"): p.path, TEXTS("col_problem"): p.message} for p in problems]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# -- past jobs -------------------------------------------------------------------------------


def render_past_jobs(kbsync: Kbsync) -> IngestionJobRecord | None:
    """The newest jobs as a table, and the one opened (a new job opens itself), as this read
    saw it: the table and the opened job's panel agree."""
    st.subheader(TEXTS("past"))
    _total, jobs = kbsync.ingestion.jobs.list_jobs(limit=PAST_JOBS)
    if not jobs:
        st.info(TEXTS("none_yet"))
        return None
    st.dataframe(pd.DataFrame([past_row(job) for job in jobs]), hide_index=True, width="stretch")
    by_id = {job.id: job for job in jobs}
    if PICK_NEXT_KEY in st.session_state:
        st.session_state[PICK_KEY] = st.session_state.pop(PICK_NEXT_KEY)
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state.pop(PICK_KEY, None)
    opened = st.selectbox(
        TEXTS("open"),
        list(by_id),
        key=PICK_KEY,
        index=0,
        format_func=lambda identifier: (
            f"{format_moment(by_id[identifier].created_at)} · {target_of(by_id[identifier])} · "
            f"{status_words(by_id[identifier].status)}"
        ),
    )
    return by_id.get(opened)


def target_of(job: IngestionJobRecord) -> str:
    return job.connection_id or f"{job.target.knowledge_base_id}/{job.target.data_source_id}"


def past_row(job: IngestionJobRecord) -> dict:
    return {
        TEXTS("col_created"): format_moment(job.created_at),
        TEXTS("col_target"): target_of(job),
        TEXTS("col_adapter"): job.adapter,
        TEXTS("col_status"): status_words(job.status),
        TEXTS("col_progress"): f"{job.processed:,} / {job.record_count:,}",
        TEXTS("col_successful"): job.successful,
        TEXTS("col_failed"): job.failed,
        TEXTS("col_skipped"): job.skipped,
        TEXTS("col_ended"): format_moment(job.completed_at),
    }


# -- one job ---------------------------------------------------------------------------------


def render_job(kbsync: Kbsync, job: IngestionJobRecord, can_operate: bool) -> None:
    """The job, live while it runs (a fragment rereading it), as it ended otherwise. `job` is
    as the page read it for the past jobs' table: a job that ended since is found ended by
    the fragment, whose whole-app rerun brings the table up to date too."""
    if job.status in FINAL_JOB_STATUSES:
        _job_panel(kbsync, job, can_operate)
    else:
        st.fragment(run_every=CHECK_SECONDS)(_live_job)(kbsync, job.id, can_operate)


def _live_job(kbsync: Kbsync, job_id: str, can_operate: bool) -> None:
    job = kbsync.ingestion.job(job_id)
    if job.status in FINAL_JOB_STATUSES:
        # A whole-app rerun draws it without a timer, and the past jobs' table with its end.
        st.rerun(scope="app")
    _job_panel(kbsync, job, can_operate)


def _job_panel(kbsync: Kbsync, job: IngestionJobRecord, can_operate: bool) -> None:
    st.subheader(TEXTS("job", id=job.id))
    st.caption(
        TEXTS(
            "where",
            adapter=job.adapter,
            target=target_of(job),
            kind=job.data_source_type,
            created=format_moment(job.created_at),
        )
    )
    counts = TEXTS(
        "counts",
        processed=job.processed,
        total=job.record_count,
        successful=job.successful,
        failed=job.failed,
        skipped=job.skipped,
    )
    share = job.processed / job.record_count if job.record_count else 1.0
    st.progress(min(share, 1.0), text=f"{status_words(job.status)} · {counts}")
    st.caption(
        TEXTS("times", started=format_moment(job.started_at), ended=format_moment(job.completed_at))
    )
    if job.error:
        (st.error if job.status == FAILED else st.info)(job.error)
    running = job.status not in FINAL_JOB_STATUSES
    cancel_key = key(f"cancel_{job.id}")
    if (
        can_operate
        and running
        and st.button(TEXTS("cancel"), key=cancel_key, icon=":material/stop_circle:")
    ):
        try:
            kbsync.ingestion.cancel(job.id)
            st.info(TEXTS("cancel_requested"))
        except IngestionJobFinishedError:
            st.info(TEXTS("already_ended"))
    failures_only = st.toggle(TEXTS("only_failures"), key=key("failures_only"))
    results = kbsync.ingestion.jobs.results(job.id, failed_only=failures_only)
    if not results:
        st.caption(TEXTS("no_results"))
        return
    rows = [
        {
            TEXTS("col_record"): result.source_id,
            TEXTS("col_status"): status_words(result.status),
            TEXTS("col_entry"): result.entry_id or "",
            TEXTS("col_aws"): result.aws_status or "",
            TEXTS("col_error"): result.error or "",
        }
        for result in results
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
