from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kbsync_ui.i18n import Texts, format_moment, language_of_locale
from kbsync_ui.presentation import elapsed_seconds, format_duration, status_label


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (float("nan"), "—"), (0, "0 s"), (42.4, "42 s"), (185, "3 min 05 s"),
     (3720, "1 h 02 min")],
)
def test_durations_read_short(seconds, shown):
    assert format_duration(seconds) == shown


def test_status_labels_are_words_with_an_icon():
    # Outside a browser session: English.
    assert status_label("COMPLETADO") == "✅ Completed"
    assert status_label("DETENIDO") == "⏹️ Stopped"
    assert status_label("STOPPING") == "⏳ Stopping"


@pytest.mark.parametrize(
    ("locale", "language"),
    [("es", "es"), ("es-ES", "es"), ("es_419", "es"), ("en-GB", "en"), ("fr-FR", "en"),
     (None, "en"), ("", "en")],
)
def test_the_browsers_locale_picks_the_language(locale, language):
    assert language_of_locale(locale) == language


def test_one_time_format_with_seconds_and_zone():
    madrid = ZoneInfo("Europe/Madrid")
    assert format_moment("2026-11-22T22:50:08.123Z", madrid) == "2026-11-22 23:50:08 CET"
    assert format_moment("2026-11-22T22:50:08.123Z", UTC) == "2026-11-22 22:50:08 UTC"
    assert format_moment(None, UTC) == "—"


def test_a_text_exists_in_both_languages_or_not_at_all():
    with pytest.raises(ValueError, match="needs an English and a Spanish version"):
        Texts({"start": ("Start", "")})


def test_elapsed_runs_until_finished():
    now = datetime(2024, 3, 5, 15, 1, tzinfo=UTC)
    assert elapsed_seconds("2024-03-05T15:00:00.000Z", None, now) == 60
    assert elapsed_seconds("2024-03-05T15:00:00.000Z", "2024-03-05T15:00:15.000Z", now) == 15
