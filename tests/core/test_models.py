import time
from datetime import UTC, datetime

import pytest

from kbsync_core.models import ExecutionStatus, map_aws_status
from kbsync_core.timefmt import es_local_time, iso_utc, log_line


@pytest.mark.parametrize(
    ("aws", "ours"),
    [
        ("COMPLETE", "COMPLETADO"),
        ("FAILED", "FALLIDO"),
        ("STARTING", "EN_EJECUCION"),
        ("IN_PROGRESS", "EN_EJECUCION"),
        ("STOPPING", "EN_EJECUCION"),
        ("STOPPED", "DETENIDO"),
        ("SOMETHING_NEW", "PENDIENTE"),
        (None, "PENDIENTE"),
    ],
)
def test_status_mapping(aws, ours):
    assert map_aws_status(aws) == ExecutionStatus(ours)


def test_iso_timestamps_look_like_javascripts():
    moment = datetime(2024, 3, 5, 15, 0, 7, 123456, tzinfo=UTC)
    assert iso_utc(moment) == "2024-03-05T15:00:07.123Z"


@pytest.fixture
def server_in_madrid(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Madrid")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_log_lines_use_the_es_es_format_in_server_local_time(server_in_madrid):
    moment = datetime(2024, 3, 5, 8, 4, 3, tzinfo=UTC)  # 9:04:03 in Madrid (UTC+1)
    assert es_local_time(moment) == "5/3/2024, 9:04:03"
    assert log_line("Ejecución creada.", moment) == "[5/3/2024, 9:04:03] Ejecución creada."
