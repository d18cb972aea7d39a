"""The History page's pieces: the live table, the selected sync's details, the charts, the CSV.

Everything below the page's controls is one fragment while a shown sync runs: it reruns by
itself every LIVE_SECONDS, re-reading kbsync's own executions from the store (one limited
query) and AWS's jobs no more often than every AWS_LIVE_SECONDS (the history service's shared
cache), and hands the page back to a whole rerun once every shown sync has ended.
"""

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from kbsync_core.errors import AwsRequestError
from kbsync_core.history_table import (
    filter_history,
    history_csv,
    history_frame,
    is_sync,
    trigger_of,
)
from kbsync_core.models import AWS_SOURCE, TRIGGER_SCHEDULE, TRIGGERS, ExecutionStatus
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import HistoryRequest
from kbsync_ui.i18n import SPANISH, Texts, browser_zone, current_language, format_moment
from kbsync_ui.presentation import format_duration, status_label, status_words
from kbsync_ui.widgets import render_log, render_statistics

TABLE_KEY = "history_table"
# The selected sync, by id: a table's selection is a row position, which a refresh moves.
SELECTED_KEY = "history_selected_id"
# The ids shown and the selection drawn by the last run, to tell an operator's click apart.
DRAWN_KEY = "history_drawn_selection"
LIVE_SECONDS = 2
AWS_LIVE_SECONDS = 10
TREND_SYNCS = 30
SYNC_PAGE = "app_pages/sync.py"
# The one time format of the console (kbsync_ui.i18n.format_moment), as momentJS writes it.
TABLE_MOMENT_FORMAT = "YYYY-MM-DD HH:mm:ss z"
STATUS_ORDER = [
    ExecutionStatus.COMPLETADO, ExecutionStatus.FALLIDO, ExecutionStatus.DETENIDO,
    ExecutionStatus.EN_EJECUCION, ExecutionStatus.PENDIENTE,
]
STATUS_CHART_COLORS = {
    ExecutionStatus.COMPLETADO: "#21c354",
    ExecutionStatus.FALLIDO: "#ff4b4b",
    ExecutionStatus.DETENIDO: "#ffa421",
    ExecutionStatus.EN_EJECUCION: "#1c83e1",
    ExecutionStatus.PENDIENTE: "#808495",
}

TEXTS = Texts({
    # table columns
    "col_status": ("Status", "Estado"),
    "col_started": ("Started", "Inicio"),
    "col_finished": ("Finished", "Fin"),
    "col_duration": ("Duration", "Duración"),
    "col_scanned": ("Scanned", "Escaneados"),
    "col_new": ("Added", "Añadidos"),
    "col_modified": ("Modified", "Modificados"),
    "col_deleted": ("Deleted", "Eliminados"),
    "col_failed": ("Failed", "Fallidos"),
    "col_metadata": ("Metadata", "Metadatos"),
    "col_trigger": ("Trigger", "Origen"),
    "col_job": ("AWS job", "Trabajo de AWS"),
    "col_description": ("Description", "Descripción"),
    "col_status_code": ("Status code", "Código de estado"),
    "col_duration_seconds": ("Duration (s)", "Duración (s)"),
    "col_failure_reasons": ("Failure reasons", "Motivos del fallo"),
    "col_id": ("kbsync id", "Id de kbsync"),
    # who started a sync
    "trigger_console": ("Console", "Consola"),
    "trigger_api": ("API", "API"),
    "trigger_schedule": ("Schedule", "Programación"),
    "trigger_aws": ("AWS", "AWS"),
    "trigger_ingestion": ("Ingestion", "Ingesta"),
    # captions and states
    "shown": (
        "{shown} shown of the {read} newest syncs of `{data_source}` (knowledge base "
        "`{knowledge_base}`, {region}); Max results {max_results}.",
        "{shown} mostradas de las {read} sincronizaciones más recientes de `{data_source}` "
        "(base de conocimiento `{knowledge_base}`, {region}); máximo de resultados "
        "{max_results}.",
    ),
    "more_may_exist": (
        "Older syncs may exist beyond Max results.",
        "Puede haber sincronizaciones más antiguas más allá del máximo de resultados.",
    ),
    "local_only": (
        "Only kbsync's own syncs of this data source: AWS did not list its jobs.",
        "Solo las sincronizaciones de kbsync de este origen de datos: AWS no listó sus trabajos.",
    ),
    "aws_refused": (
        "Could not read the history from AWS. {error}",
        "No se pudo leer el historial desde AWS. {error}",
    ),
    "no_sync_yet": (
        "No sync of this data source yet. Start one on the Sync page.",
        "Aún no hay ninguna sincronización de este origen de datos. Inicie una en la página "
        "Sincronizar.",
    ),
    "go_to_sync": ("Go to the Sync page", "Ir a la página Sincronizar"),
    "nothing_matches": (
        "No sync matches these filters: clear the status or the dates to see the others.",
        "Ninguna sincronización coincide con estos filtros: quite el estado o las fechas para "
        "ver las demás.",
    ),
    "select_hint": (
        "Select a row to see that sync's details and log.",
        "Seleccione una fila para ver los detalles y el registro de esa sincronización.",
    ),
    "download": ("Download CSV", "Descargar CSV"),
    # details
    "detail_started": ("**Started** {moment}", "**Inicio** {moment}"),
    "detail_finished": ("**Finished** {moment}", "**Fin** {moment}"),
    "detail_duration": ("**Duration** {duration}", "**Duración** {duration}"),
    "detail_trigger": ("**Trigger** {trigger}", "**Origen** {trigger}"),
    "detail_description": ("**Description** {description}", "**Descripción** {description}"),
    "detail_aws_started": ("**Started in AWS** {moment}", "**Inicio en AWS** {moment}"),
    "detail_aws_updated": (
        "**Last updated in AWS** {moment}", "**Última actualización en AWS** {moment}"
    ),
    "detail_aws_status": ("**AWS status** `{status}`", "**Estado en AWS** `{status}`"),
    "aws_only": (
        "Started outside kbsync: AWS keeps no log of it, only its times and counts.",
        "Iniciada fuera de kbsync: AWS no guarda su registro, solo sus horas y recuentos.",
    ),
    "no_reasons": (
        "Could not read the failure reasons: {error}",
        "No se pudieron leer los motivos del fallo: {error}",
    ),
    # charts
    "charts": ("Recent syncs", "Sincronizaciones recientes"),
    "chart_outcome": ("Outcome", "Resultado"),
    "chart_duration": ("Duration (s)", "Duración (s)"),
    "chart_documents": ("Documents", "Documentos"),
    "chart_kind": ("Documents", "Documentos"),
    "chart_time": ("Started ({zone})", "Inicio ({zone})"),
})
TABLE_COLUMNS = {
    "status": "col_status",
    "startedAt": "col_started",
    "finishedAt": "col_finished",
    "durationSeconds": "col_duration",
    "documentsScanned": "col_scanned",
    "documentsNew": "col_new",
    "documentsModified": "col_modified",
    "documentsDeleted": "col_deleted",
    "documentsFailed": "col_failed",
    "metadataScanned": "col_metadata",
    "trigger": "col_trigger",
    "jobId": "col_job",
    "description": "col_description",
}
CSV_COLUMNS = {
    "jobId": "col_job",
    "statusCode": "col_status_code",
    "status": "col_status",
    "trigger": "col_trigger",
    "startedAt": "col_started",
    "finishedAt": "col_finished",
    "durationSeconds": "col_duration_seconds",
    "documentsScanned": "col_scanned",
    "documentsNew": "col_new",
    "documentsModified": "col_modified",
    "documentsDeleted": "col_deleted",
    "documentsFailed": "col_failed",
    "metadataScanned": "col_metadata",
    "description": "col_description",
    "failureReasons": "col_failure_reasons",
    "id": "col_id",
}
# The documents chart: what each sync did to the knowledge base.
CHART_COUNTS = {
    "documentsNew": "col_new",
    "documentsModified": "col_modified",
    "documentsDeleted": "col_deleted",
    "documentsFailed": "col_failed",
}
# d3's time locale for Spanish month and day names on the charts' axes.
SPANISH_TIME_LOCALE = {
    "dateTime": "%A, %e de %B de %Y, %X",
    "date": "%d/%m/%Y",
    "time": "%H:%M:%S",
    "periods": ["AM", "PM"],
    "days": ["domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
    "shortDays": ["dom", "lun", "mar", "mié", "jue", "vie", "sáb"],
    "months": [
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    ],
    "shortMonths": [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
    ],
}


def trigger_words(trigger: str | None) -> str | None:
    """`console` → Console / Consola; None (not recorded) stays None, drawn as "—"."""
    if trigger not in TRIGGERS:  # None, a table's NaN, or a value of a later kbsync
        return trigger if isinstance(trigger, str) and trigger else None
    return TEXTS(f"trigger_{trigger}")


@dataclass(frozen=True)
class HistoryView:
    """What the operator asked for above the table."""

    request: HistoryRequest
    statuses: tuple[str, ...] = ()
    dates: tuple[date, ...] = ()


@dataclass
class _Read:
    rows: list[dict]
    aws_error: AwsRequestError | None = None


def render_history(kbsync: Kbsync, view: HistoryView, *, refresh: bool = False) -> None:
    """The history below the controls; live (a fragment on a timer) while a shown sync runs."""
    first = _read(kbsync, view.request, refresh=refresh)
    if any(not ExecutionStatus(row["status"]).is_final for row in first.rows):
        # The fragment draws this first read; its own reruns read again.
        live = {"read": first, "aws_refused": first.aws_error is not None}
        st.fragment(run_every=LIVE_SECONDS)(_live_history)(kbsync, view, live)
    else:
        _history(kbsync, view, first)


def _live_history(kbsync: Kbsync, view: HistoryView, live: dict) -> None:
    read = live.pop("read", None)
    if read is None and live["aws_refused"]:
        # AWS refused on the page's run: the timer re-reads kbsync's own rows only, and the
        # next whole run (Refresh, a filter) asks AWS again.
        read = _Read(kbsync.history.read_local(view.request, keep=is_sync), live["aws_error"])
    elif read is None:
        read = _read(kbsync, view.request, max_age=AWS_LIVE_SECONDS)
    live["aws_error"] = read.aws_error
    live["aws_refused"] = read.aws_error is not None
    _history(kbsync, view, read)
    if all(ExecutionStatus(row["status"]).is_final for row in read.rows):
        # Every shown sync ended: a whole rerun draws the page without a timer.
        st.rerun(scope="app")


def _read(
    kbsync: Kbsync, request: HistoryRequest, *, refresh: bool = False, max_age=None
) -> _Read:
    try:
        return _Read(kbsync.history.read(request, refresh=refresh, keep=is_sync, max_age=max_age))
    except AwsRequestError as error:
        # AWS refuses (denied keys, an unknown knowledge base): kbsync's own rows still show.
        return _Read(kbsync.history.read_local(request, keep=is_sync), error)


def _history(kbsync: Kbsync, view: HistoryView, read: _Read) -> None:
    request, rows = view.request, read.rows
    if read.aws_error is not None:
        st.error(TEXTS("aws_refused", error=read.aws_error), icon=":material/error:")
    if not rows:
        if read.aws_error is None:
            st.info(TEXTS("no_sync_yet"), icon=":material/info:")
            st.page_link(SYNC_PAGE, label=TEXTS("go_to_sync"), icon=":material/sync:")
        return
    frame = filter_history(history_frame(rows), statuses=view.statuses, dates=view.dates)
    target = request.target
    caption = TEXTS(
        "shown", shown=len(frame), read=len(rows), max_results=request.max_results,
        data_source=target.data_source_id, knowledge_base=target.knowledge_base_id,
        region=target.region,
    )
    if read.aws_error is not None:
        caption += " " + TEXTS("local_only")
    elif len(rows) >= request.max_results:
        caption += " " + TEXTS("more_may_exist")
    st.caption(caption)
    if frame.empty:
        st.info(TEXTS("nothing_matches"), icon=":material/filter_alt_off:")
        return
    selected_id = render_history_table(frame)
    rows_by_id = {row["id"]: row for row in rows}
    st.download_button(
        TEXTS("download"),
        # A function: the CSV (and the failure reasons AWS's listing leaves out) is built
        # when someone asks for it, not on every page run; outside the page run, so its
        # words are chosen here.
        _csv_maker(kbsync, request, frame, rows_by_id),
        file_name="kbsync-history.csv",
        mime="text/csv", icon=":material/download:", on_click="ignore",
    )
    if selected_id is not None:
        render_selected_sync(kbsync, request, rows_by_id[selected_id])
    else:
        st.caption(TEXTS("select_hint"))
    render_trend_chart(frame)


def _selection(ids: list[str]) -> list[int]:
    """The table's selection for these rows: the selected sync's row wherever it now is.

    A click changes the table's state from what the last run drew; it is read against the ids
    that run showed. Otherwise the remembered sync is selected again by its id, so a refresh,
    a live update that moves it, or a visit to another page keeps it selected (a filter that
    hides it unselects it until it shows again)."""
    state = st.session_state.get(TABLE_KEY)  # None after another page: Streamlit dropped it
    rows = list(state["selection"]["rows"]) if state else []
    drawn_ids, drawn_rows = st.session_state.get(DRAWN_KEY, ((), []))
    if state is not None and rows != drawn_rows:  # the operator's click
        position = rows[0] if rows else None
        st.session_state[SELECTED_KEY] = (
            drawn_ids[position] if position is not None and position < len(drawn_ids) else None
        )
    selected = st.session_state.get(SELECTED_KEY)
    wanted = [ids.index(selected)] if selected in ids else []
    if wanted != rows:
        st.session_state[TABLE_KEY] = {"selection": {"rows": wanted, "columns": []}}
    st.session_state[DRAWN_KEY] = (tuple(ids), wanted)
    return wanted


def render_history_table(frame: pd.DataFrame) -> str | None:
    """The table, newest first, sortable by every column (times and numbers as such); returns
    the selected sync's id."""
    shown = frame.sort_values("startedAt", ascending=False)
    zone = browser_zone()
    zone_name = getattr(zone, "key", "UTC")
    # One lookup table per run: each text costs a session-state read.
    labels_of = {str(status): status_label(status) for status in ExecutionStatus}
    triggers = {trigger: trigger_words(trigger) for trigger in shown["trigger"].dropna().unique()}
    table = shown.assign(
        status=shown["status"].map(labels_of),
        trigger=shown["trigger"].map(triggers),
        startedAt=shown["startedAt"].dt.tz_convert(zone_name),
        finishedAt=shown["finishedAt"].dt.tz_convert(zone_name),
    )[list(TABLE_COLUMNS)]
    labels = {column: TEXTS(key) for column, key in TABLE_COLUMNS.items()}
    when = st.column_config.DatetimeColumn
    count = st.column_config.NumberColumn
    ids = list(shown["id"])
    selected = _selection(ids)
    st.dataframe(
        table.rename(columns=labels),
        hide_index=True,
        key=TABLE_KEY,
        on_select="rerun",
        selection_mode="single-row",
        placeholder="—",
        column_config={
            labels["startedAt"]: when(format=TABLE_MOMENT_FORMAT, timezone=zone_name),
            labels["finishedAt"]: when(format=TABLE_MOMENT_FORMAT, timezone=zone_name),
            labels["durationSeconds"]: count(format="%.1f s"),
            **{
                labels[column]: count(format="%d")
                for column in (
                    "documentsScanned", "documentsNew", "documentsModified",
                    "documentsDeleted", "documentsFailed", "metadataScanned",
                )
            },
            labels["description"]: st.column_config.TextColumn(width="small"),
        },
    )
    return ids[selected[0]] if selected else None


def render_selected_sync(kbsync: Kbsync, request: HistoryRequest, row: dict) -> None:
    with st.container(border=True):
        st.subheader(f"{status_label(row['status'])} · {row.get('jobId') or row['id']}")
        aws_only = row["source"] == AWS_SOURCE
        summary = _aws_summary(kbsync, request, row) if aws_only else None
        facts = []
        if summary is not None:
            facts += [
                TEXTS("detail_aws_started", moment=format_moment(summary["startedAt"])),
                TEXTS("detail_aws_updated", moment=format_moment(summary["updatedAt"])),
            ]
        else:
            facts.append(TEXTS("detail_started", moment=format_moment(row["startedAt"])))
        facts += [
            TEXTS("detail_finished", moment=format_moment(row.get("finishedAt"))),
            TEXTS("detail_duration", duration=format_duration(_duration(row))),
            TEXTS("detail_trigger", trigger=_trigger_with_schedule(kbsync, row)),
        ]
        if row.get("awsStatus"):
            facts.append(TEXTS("detail_aws_status", status=row["awsStatus"]))
        facts.append(TEXTS("detail_description", description=row.get("description") or "—"))
        st.markdown("  \n".join(facts))
        render_statistics(row.get("statistics") or {})
        for reason in _failure_reasons(kbsync, request, row):
            st.error(reason, icon=":material/cancel:")
        if aws_only:
            # The API's rows of AWS jobs carry a pseudo-log written when the history was read
            # (seed 001's); the console shows AWS's own times above instead.
            st.caption(TEXTS("aws_only"))
        else:
            render_log(kbsync.store.events_of(row["id"]))


def _trigger_with_schedule(kbsync: Kbsync, row: dict) -> str:
    """Who started it; for a schedule's sync, which schedule (while it exists)."""
    trigger = trigger_of(row)
    words = trigger_words(trigger) or "—"
    if trigger != TRIGGER_SCHEDULE:
        return words
    name = kbsync.schedules.names_of_executions([row["id"]]).get(row["id"])
    return f"{words}: {name}" if name else words


def _duration(row: dict) -> float | None:
    if not row.get("finishedAt"):
        return None
    started = pd.Timestamp(row["startedAt"])
    return (pd.Timestamp(row["finishedAt"]) - started).total_seconds()


def _aws_summary(kbsync: Kbsync, request: HistoryRequest, row: dict) -> dict | None:
    try:
        return kbsync.history.aws_summary(request, row["jobId"])
    except AwsRequestError:
        return None


def _failure_reasons(kbsync: Kbsync, request: HistoryRequest, row: dict) -> list[str]:
    try:
        return kbsync.history.failure_reasons(request, row)
    except AwsRequestError as error:
        return [TEXTS("no_reasons", error=error)]


def _csv_maker(kbsync: Kbsync, request: HistoryRequest, frame: pd.DataFrame, rows_by_id):
    headers = {column: TEXTS(key) for column, key in CSV_COLUMNS.items()}
    words = {str(status): status_words(status) for status in ExecutionStatus}
    unreadable = TEXTS("no_reasons", error="{error}")

    def csv() -> str:
        reasons = {}
        for row_id in frame.loc[frame["status"] == ExecutionStatus.FALLIDO, "id"]:
            try:
                reasons[row_id] = kbsync.history.failure_reasons(request, rows_by_id[row_id])
            except AwsRequestError as error:
                reasons[row_id] = [unreadable.format(error=error)]
        return history_csv(frame, headers, words.get, reasons)

    return csv


# -- charts ----------------------------------------------------------------------------------


def _time_axis(frame: pd.DataFrame) -> dict:
    """The time axis: date and 24-hour clock, seconds when the syncs are minutes apart, in the
    browser's zone (Vega-Lite draws times in the browser's own), named in the title."""
    zone = getattr(browser_zone(), "key", "UTC")
    span = frame["startedAt"].max() - frame["startedAt"].min()
    label_format = "%d %b %H:%M:%S" if span < pd.Timedelta(minutes=10) else "%d %b %H:%M"
    encoding = {
        "field": "started", "type": "temporal", "title": TEXTS("chart_time", zone=zone),
        "axis": {"format": label_format, "formatType": "time", "labelAngle": -30,
                 "labelOverlap": True},
    }
    # Room at both ends, so the first and last syncs' bars are not cut in half.
    encoding["scale"] = {"padding": 12}
    if zone == "UTC":  # no browser zone known: say UTC, and draw UTC
        encoding["scale"]["type"] = "utc"
    return encoding


def _chart_config() -> dict:
    config = {}
    if current_language() == SPANISH:
        config["locale"] = {"time": SPANISH_TIME_LOCALE}
    return config


def _status_color(status_order: list[str]) -> dict:
    return {
        "field": "statusWords", "type": "nominal", "title": TEXTS("col_status"),
        "scale": {"domain": status_order,
                  "range": [STATUS_CHART_COLORS[s] for s in STATUS_ORDER]},
    }


def _tooltip() -> list[dict]:
    return [
        {"field": "when", "title": TEXTS("col_started")},
        {"field": "statusWords", "title": TEXTS("col_status")},
        {"field": "jobId", "title": TEXTS("col_job")},
        {"field": "duration", "title": TEXTS("col_duration")},
    ]


def _count(value) -> int:
    return 0 if value is None or value is pd.NA or value != value else int(value)


def chart_specs(frame: pd.DataFrame) -> list[dict]:
    """Vega-Lite specs, their data inline (a few dozen rows: cheaper than a table's Arrow
    conversion per chart): outcome over time, duration per sync, documents per sync."""
    recent = frame.nlargest(TREND_SYNCS, "startedAt")
    zone = browser_zone()
    words = {str(status): status_words(status) for status in ExecutionStatus}
    kinds = {column: TEXTS(label) for column, label in CHART_COUNTS.items()}
    syncs, documents = [], []
    for row in recent.to_dict("records"):
        seconds = row["durationSeconds"]
        sync = {
            "started": row["startedAt"].isoformat().replace("+00:00", "Z"),
            "when": format_moment(row["startedAt"].to_pydatetime(), zone),
            "statusWords": words[row["status"]],
            "jobId": row["jobId"] if isinstance(row["jobId"], str) else "—",
            "durationSeconds": None if seconds != seconds else seconds,
            "duration": format_duration(seconds),
        }
        syncs.append(sync)
        documents += [
            {**sync, "kind": kind, "documents": _count(row[column])}
            for column, kind in kinds.items()
        ]
    x = _time_axis(recent)
    config = _chart_config()
    status_order = [words[status] for status in STATUS_ORDER]
    outcome = {
        "title": TEXTS("chart_outcome"),
        "data": {"values": syncs},
        "mark": {"type": "point", "filled": True, "size": 90},
        "encoding": {
            "x": x,
            "y": {"field": "statusWords", "type": "nominal", "title": None,
                  "sort": status_order},
            "color": _status_color(status_order),
            "tooltip": _tooltip(),
        },
        "config": config,
    }
    duration = {
        "title": TEXTS("chart_duration"),
        "data": {"values": syncs},
        "mark": {"type": "bar", "size": 8},
        "encoding": {
            "x": x,
            "y": {"field": "durationSeconds", "type": "quantitative", "title": None,
                  "axis": {"format": ",.1~f"}},
            "color": {**_status_color(status_order), "legend": None},
            "tooltip": _tooltip(),
        },
        "config": config,
    }
    counts = {
        "title": TEXTS("chart_documents"),
        "data": {"values": documents},
        "mark": {"type": "bar", "size": 8},
        "encoding": {
            "x": x,
            "y": {"field": "documents", "type": "quantitative", "title": None,
                  "stack": True, "axis": {"tickMinStep": 1, "format": "d"}},
            "color": {"field": "kind", "type": "nominal", "title": TEXTS("chart_kind"),
                      "sort": list(kinds.values())},
            "tooltip": [*_tooltip(), {"field": "kind", "title": TEXTS("chart_kind")},
                        {"field": "documents", "title": TEXTS("chart_documents")}],
        },
        "config": config,
    }
    return [outcome, duration, counts]


def render_trend_chart(frame: pd.DataFrame) -> None:
    """Outcome, duration and documents of the most recent syncs: a trend at a glance.

    Plain Vega-Lite specs rather than Altair objects: Altair's schema validation alone cost
    more than the rest of the page (measured by bench/bench_console.py).
    """
    if len(frame) < 2:
        return
    outcome, duration, counts = chart_specs(frame)
    st.subheader(TEXTS("charts"))
    st.vega_lite_chart(outcome, width="stretch", height=160)
    left, right = st.columns(2)
    left.vega_lite_chart(duration, width="stretch", height=220)
    right.vega_lite_chart(counts, width="stretch", height=220)
