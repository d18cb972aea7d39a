"""The console's language (English or Spanish) and the browser's time zone.

Every text the console shows is written next to the code that shows it, in both languages:

    TEXTS = Texts({"start": ("Start sync", "Iniciar sincronización")})
    st.button(TEXTS("start"))
    st.caption(TEXTS("running_since", moment=...))   # str.format values

so a label cannot exist in one language only (Texts refuses a pair with an empty side). The
language comes from the browser's locale on a session's first run (Spanish for `es-*`, English
otherwise) until the operator picks one with the switch, which names each language in its own
words. The JSON API never goes through here: its texts are the seeds' and do not move.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from kbsync_core.timefmt import parse_iso

ENGLISH = "en"
SPANISH = "es"
# In each language's own words, as language switches everywhere name them.
LANGUAGE_NAMES = {ENGLISH: "English", SPANISH: "Español"}
LANGUAGE_KEY = "console_language"
DRAWN_LANGUAGE_KEY = "console_language_drawn"
WORDED_CHOICES_KEY = "console_worded_choices"
_INDEX = {ENGLISH: 0, SPANISH: 1}
# One format for every moment the console shows: date, 24-hour time with seconds, and zone.
MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S %Z"


class Texts:
    """A module's texts, each as (English, Spanish)."""

    def __init__(self, pairs: Mapping[str, tuple[str, str]]):
        for key, pair in pairs.items():
            if len(pair) != 2 or not all(pair):
                raise ValueError(f"text {key!r} needs an English and a Spanish version")
        self._pairs = dict(pairs)

    def __call__(self, key: str, **values) -> str:
        text = self._pairs[key][_INDEX[current_language()]]
        return text.format(**values) if values else text

    def both(self, key: str) -> tuple[str, str]:
        """Both versions (a test, or a value compared whatever the language)."""
        return self._pairs[key]


def language_of_locale(locale: str | None) -> str:
    """`es`, `es-ES`, `es-419` → Spanish; anything else, or nothing, → English."""
    if locale and locale.lower().replace("_", "-").split("-")[0] == SPANISH:
        return SPANISH
    return ENGLISH


def current_language() -> str:
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen in LANGUAGE_NAMES:
        return chosen
    return language_of_locale(_browser("locale"))


def worded_choice(key: str) -> str:
    """The key of a radio, select or multiselect whose options are shown in words, to be
    kept across a language switch (see _carry_worded_choices); returns the key."""
    st.session_state.setdefault(WORDED_CHOICES_KEY, set()).add(key)
    return key


def _carry_worded_choices() -> None:
    """The browser holds such a widget's choice by its words: once the words change language
    it would show nothing chosen. Setting each choice again, before its widget is drawn, makes
    Streamlit send it to the browser in the new words."""
    for key in st.session_state.get(WORDED_CHOICES_KEY, ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_language_switch() -> str:
    """The switch, in the sidebar; its first value is the browser's language."""
    drawn = st.session_state.get(DRAWN_LANGUAGE_KEY)
    if st.session_state.get(LANGUAGE_KEY) not in LANGUAGE_NAMES:
        # First run (the browser's language), or a click on the chosen option, which unselects
        # it in a segmented control: keep the language shown.
        st.session_state[LANGUAGE_KEY] = drawn or current_language()
    if drawn is not None and drawn != st.session_state[LANGUAGE_KEY]:
        _carry_worded_choices()
    st.session_state[DRAWN_LANGUAGE_KEY] = st.session_state[LANGUAGE_KEY]
    with st.sidebar:
        st.segmented_control(
            "Language / Idioma", list(LANGUAGE_NAMES), format_func=LANGUAGE_NAMES.get,
            key=LANGUAGE_KEY, label_visibility="collapsed", width="stretch",
        )
    return current_language()


def browser_zone() -> tzinfo:
    """The browser's IANA time zone; UTC when it sent none (or one this machine lacks)."""
    name = _browser("timezone")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def format_moment(moment: str | datetime | None, zone: tzinfo | None = None) -> str:
    """`2026-11-22 23:50:08 CET`, in the browser's zone: the console's one time format.
    "—" for a moment that has not happened (a sync not finished)."""
    if moment is None or moment == "":
        return "—"
    when = parse_iso(moment) if isinstance(moment, str) else moment
    if when != when:  # NaT from a pandas column
        return "—"
    return when.astimezone(zone or browser_zone()).strftime(MOMENT_FORMAT)


def _browser(field: str) -> str | None:
    try:
        return getattr(st.context, field)
    except Exception:  # outside a script run (a bench, a plain test)
        return None
