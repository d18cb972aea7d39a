"""One language at a time: the switch names each language in its own words, and the console's
texts, statuses included, follow it."""

from streamlit.testing.v1 import AppTest

from kbsync_ui.i18n import LANGUAGE_KEY
from tests.ui.conftest import APP
from tests.ui.helpers import texts


def test_the_switch_turns_the_console_spanish(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    switch = at.sidebar.button_group(key=LANGUAGE_KEY)
    assert switch.value == "en"  # no browser locale in a test: English
    assert "Sandbox: simulated AWS, nothing leaves this machine" in texts(at)
    switch.set_value("es").run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Sandbox: AWS simulado, nada sale de esta máquina" in shown
    assert "Sandbox: simulated AWS" not in shown
    at.switch_page("app_pages/connections.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Conexiones"
    assert "Añadir una conexión" in [tab.label for tab in at.tabs]
