"""Schedule expressions: cron and seed 004's intervals, time zones across daylight-saving
changes, windows, the one-minute floor, and errors that name the field at fault."""

from datetime import UTC, datetime, timedelta

import pytest

from kbsync_core.errors import ScheduleInvalidError
from kbsync_core.schedule_spec import parse_schedule

CREATED = datetime(2026, 3, 27, 9, 0, 7, tzinfo=UTC)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def firings(expression, timezone=None, start=None, end=None, count=5, after=CREATED):
    spec = parse_schedule(expression, timezone, start, end, anchor=CREATED)
    return spec.next_firings(count, after)


def test_a_cron_fires_on_its_minutes_in_utc_by_default():
    assert firings("0 */4 * * *", count=3) == [utc(2026, 3, 27, 12), utc(2026, 3, 27, 16),
                                               utc(2026, 3, 27, 20)]


@pytest.mark.parametrize(
    ("expression", "step"),
    [("5 MINUTES", timedelta(minutes=5)), ("5 minutes", timedelta(minutes=5)),
     ("1 hour", timedelta(hours=1)), ("6 Hours", timedelta(hours=6)),
     ("HOURLY", timedelta(hours=1)), ("1 MINUTE", timedelta(minutes=1))],
)
def test_intervals_count_from_the_creation_in_any_case_singular_or_plural(expression, step):
    assert firings(expression, count=3) == [CREATED + step, CREATED + 2 * step, CREATED + 3 * step]


def test_an_interval_with_a_start_fires_at_the_start_then_every_interval():
    assert firings("10 MINUTES", start="2026-06-19T18:00:00Z", count=2) == [
        utc(2026, 6, 19, 18), utc(2026, 6, 19, 18, 10)
    ]


def test_a_2_30_cron_in_madrid_fires_once_on_each_daylight_saving_night():
    # 29 March 2026: 02:00 → 03:00, 02:30 never happens: it fires once, at 03:00 CEST.
    spring = firings("30 2 * * *", "Europe/Madrid", count=3, after=utc(2026, 3, 27, 12))
    assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    # 25 October 2026: 03:00 → 02:00, 02:30 happens twice: it fires once, the first time.
    autumn = firings("30 2 * * *", "Europe/Madrid", count=3, after=utc(2026, 10, 23, 12))
    assert autumn == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_daily_keeps_its_wall_clock_time_across_a_daylight_saving_change():
    daily = firings("DAILY", "Europe/Madrid", start="2026-03-27T09:00:00", count=4)
    # 09:00 CET (UTC+1), then 09:00 CEST (UTC+2) from the 29th.
    assert daily == [
        utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), utc(2026, 3, 31, 7)
    ]
    assert firings("WEEKLY", "UTC", start="2026-03-27T09:00:00Z", count=2) == [
        utc(2026, 4, 3, 9), utc(2026, 4, 10, 9)
    ]


def test_nothing_fires_before_the_window_starts_or_after_it_ends():
    window = {"start": "2026-04-01T00:00:00Z", "end": "2026-04-01T03:00:00Z"}
    assert firings("0 * * * *", count=10, **window) == [
        utc(2026, 4, 1, 0), utc(2026, 4, 1, 1), utc(2026, 4, 1, 2), utc(2026, 4, 1, 3)
    ]
    assert firings("0 * * * *", count=10, after=utc(2026, 4, 2), **window) == []


def test_missed_slots_are_counted_up_to_the_latest_due():
    spec = parse_schedule("* * * * *", anchor=CREATED)
    assert spec.due_slots(utc(2026, 3, 27, 10), utc(2026, 3, 27, 10, 9, 30)) == (
        utc(2026, 3, 27, 10, 9), 10
    )
    interval = parse_schedule("5 MINUTES", start="2026-03-27T10:00:00Z", anchor=CREATED)
    assert interval.due_slots(utc(2026, 3, 27, 10), utc(2026, 3, 27, 10, 59)) == (
        utc(2026, 3, 27, 10, 55), 12
    )
    assert interval.due_slots(utc(2026, 3, 27, 11), utc(2026, 3, 27, 10, 59)) == (None, 0)


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        (("30 SECONDS",), "expression", "at most once a minute"),
        (("0 MINUTES",), "expression", "at most once a minute"),
        (("5 FORTNIGHTS",), "expression", "Unknown interval unit"),
        (("* * *",), "expression", "5 fields"),
        (("61 * * * *",), "expression", "bad minute field"),
        (("0 0 * * 9",), "expression", "bad day-of-week field"),
        (("",), "expression", "needs an expression"),
        (("DAILY", "Mars/Olympus"), "timezone", "Unknown time zone"),
        (("DAILY", None, "yesterday"), "start", "not an ISO 8601"),
        (("DAILY", None, "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"), "end", "after the start"),
    ],
)
def test_refusals_name_the_field_in_an_operators_words(arguments, field, words):
    with pytest.raises(ScheduleInvalidError) as refused:
        parse_schedule(*arguments, anchor=CREATED)
    assert refused.value.field == field
    assert words in str(refused.value)


def test_expressions_are_kept_normalised():
    assert parse_schedule("  5   minutes ", anchor=CREATED).expression == "5 MINUTES"
    assert parse_schedule("0  */4 * *  *", anchor=CREATED).expression == "0 */4 * * *"
