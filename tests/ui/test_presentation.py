from datetime import UTC, datetime

import pytest

from kbsync_ui.presentation import elapsed_seconds, format_duration, status_label


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (float("nan"), "—"), (0, "0 s"), (42.4, "42 s"), (185, "3 min 05 s"),
     (3720, "1 h 02 min")],
)
def test_durations_read_short(seconds, shown):
    assert format_duration(seconds) == shown


def test_status_labels_carry_an_icon():
    assert status_label("COMPLETADO") == "✅ COMPLETADO"
    assert status_label("DETENIDO") == "⏹️ DETENIDO"


def test_elapsed_runs_until_finished():
    now = datetime(2024, 3, 5, 15, 1, tzinfo=UTC)
    assert elapsed_seconds("2024-03-05T15:00:00.000Z", None, now) == 60
    assert elapsed_seconds("2024-03-05T15:00:00.000Z", "2024-03-05T15:00:15.000Z", now) == 15
