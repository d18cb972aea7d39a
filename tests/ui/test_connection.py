"""The sidebar: labels, sandbox prefill and banner, per-field messages, pick lists."""

from streamlit.testing.v1 import AppTest

from kbsync_ui.connection import USE_KEYS, USE_SAVED
from kbsync_ui.session import CURRENT_EXECUTION_KEY
from tests.ui.conftest import APP, SECRET, sign_in
from tests.ui.helpers import rerun_until, sidebar_texts, texts

LABELS = [
    "Knowledge base ID", "Data source ID", "Access key ID", "Secret access key", "Session token",
]


def test_fields_are_labelled_and_the_sandbox_is_prefilled_and_announced(console):
    assert [field.label for field in console.sidebar.text_input] == LABELS
    assert console.sidebar.selectbox(key="connection_region").value == "us-east-1"
    assert console.text_input(key="connection_knowledge_base_id").value == "SANDBOXKB1"
    assert console.text_input(key="connection_data_source_id").value == "SANDBOXDS1"
    assert "Sandbox: simulated AWS, nothing leaves this machine" in texts(console)
    start = console.button(key="sync_start")
    assert start.label == "Start sync" and start.disabled
    # Why, in words under the button (a tooltip never shows on a phone)...
    assert "Fill in: Access key ID, Secret access key" in texts(console)
    # ...and no red "Required" under fields the operator has not begun to fill in.
    assert "Required" not in sidebar_texts(console)


def test_every_fields_problem_is_reported_at_once(console):
    console.text_input(key="connection_access_key_id").input("not a key")
    console.run()  # a bad key id beside an empty secret: both are said
    shown = sidebar_texts(console)
    assert ":red[Must hold visible ASCII characters only" in shown
    assert ":red[Required]" in shown
    assert "Fill in: Secret access key. Correct: Access key ID" in texts(console)
    console.text_input(key="connection_data_source_id").input("").run()
    assert sidebar_texts(console).count(":red[Required]") == 2
    console.text_input(key="connection_secret_access_key").input("bad secret").run()
    shown = sidebar_texts(console)  # a bad secret is said while the key id is still wrong
    assert ":red[Must not contain spaces, line breaks or control characters.]" in shown
    assert "Correct: Access key ID, Secret access key" in texts(console)


def test_the_sidebar_speaks_spanish(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["console_language"] = "es"
    at.run()
    assert [field.label for field in at.sidebar.text_input][2:4] == [
        "ID de clave de acceso", "Clave de acceso secreta",
    ]
    at.text_input(key="connection_access_key_id").input("not a key").run()
    assert ":red[Solo caracteres ASCII visibles" in sidebar_texts(at)
    assert ":red[Obligatorio]" in sidebar_texts(at)


def test_each_malformed_field_gets_the_cores_message_next_to_it(console):
    console.text_input(key="connection_knowledge_base_id").input("SHORT")
    console.text_input(key="connection_data_source_id").input("has spaces!")
    console.text_input(key="connection_access_key_id").input("not a key")
    console.text_input(key="connection_secret_access_key").input("secret")
    console.run()
    shown = sidebar_texts(console)
    assert "Must be exactly 10 letters or digits, such as ABCDEFGHIJ." in shown
    assert "Must be exactly 10 letters or digits, such as KLMNOPQRST." in shown
    assert "Must hold visible ASCII characters only" in shown
    assert console.button(key="sync_start").disabled


def test_an_emulators_test_test_keys_are_taken_and_the_caption_says_so(console):
    assert "On the sandbox any keys work, e.g. AKIAIOSFODNN7EXAMPLE, or test / test as on " \
        "LocalStack." in sidebar_texts(console)
    console.text_input(key="connection_access_key_id").input("test")
    console.text_input(key="connection_secret_access_key").input("test")
    console.run()
    shown = sidebar_texts(console)
    assert ":red[" not in shown
    assert "16" not in shown
    knowledge_bases = console.sidebar.selectbox(key="connection_pick_knowledge_base")
    assert knowledge_bases.options == ["kbsync-sandbox-knowledge-base (SANDBOXKB1)"]
    assert not console.button(key="sync_start").disabled


def test_credentials_unlock_pick_lists_of_the_accounts_resources(console):
    assert len(console.sidebar.selectbox) == 1  # only Region before credentials
    sign_in(console)
    knowledge_bases = console.sidebar.selectbox(key="connection_pick_knowledge_base")
    assert knowledge_bases.options == ["kbsync-sandbox-knowledge-base (SANDBOXKB1)"]
    data_sources = console.sidebar.selectbox(key="connection_pick_data_source")
    assert "support-archive (SANDBOXDS2)" in data_sources.options
    data_sources.select("SANDBOXDS2").run()
    assert console.text_input(key="connection_data_source_id").value == "SANDBOXDS2"
    assert not console.button(key="sync_start").disabled


def test_an_aws_error_listing_resources_is_read_out_with_its_code(console, kbsync):
    console.text_input(key="connection_access_key_id").input("AKIADENIED0000000000")
    console.text_input(key="connection_secret_access_key").input(SECRET)
    console.run()
    assert "Could not list them: AccessDeniedException" in sidebar_texts(console)
    console.run()
    console.run()  # the refusal is remembered, not asked again on every rerun
    assert "Could not list them: AccessDeniedException" in sidebar_texts(console)
    asked = [name for name, _params in kbsync.sandbox.calls if name == "ListKnowledgeBases"]
    assert len(asked) == 1


def test_credentials_never_come_back_to_the_page(console):
    sign_in(console)
    console.button(key="sync_start").click().run()
    assert SECRET not in texts(console)
    assert SECRET not in sidebar_texts(console)
    assert SECRET not in str(console.get('text_input'))


def test_a_session_token_that_cannot_be_one_gets_a_message_not_an_error(console):
    sign_in(console)
    console.text_input(key="connection_session_token").input("token with spaces")
    console.run()
    assert not console.exception
    assert "Must hold visible ASCII characters only" in sidebar_texts(console)
    assert console.button(key="sync_start").disabled
    assert "Correct: Session token" in texts(console)


# -- a saved connection instead of keys ------------------------------------------------------

def choose_saved(at, connection_id: str):
    at.sidebar.radio(key="connection_mode").set_value(USE_SAVED).run()
    at.sidebar.selectbox(key="connection_saved").set_value(connection_id).run()
    assert not at.exception, at.exception
    return at


def test_a_saved_connection_starts_a_sync_to_completado_with_no_keys(console, kbsync):
    assert console.sidebar.radio(key="connection_mode").value == USE_KEYS
    choose_saved(console, "sandbox")
    assert not console.sidebar.text_input  # no key fields at all
    assert console.query_params["connection"] in ("sandbox", ["sandbox"])
    start = next(button for button in console.button if button.label == "Start sync")
    assert not start.disabled
    start.click().run()
    execution_id = console.session_state[CURRENT_EXECUTION_KEY]
    rerun_until(console, lambda at: "Completed" in texts(at))
    execution = kbsync.engine.get(execution_id)
    assert execution.target.data_source_id == "SANDBOXDS1"
    assert kbsync.store.connection_of(execution_id) == "sandbox"


def test_the_history_page_reads_with_the_chosen_connection(console):
    choose_saved(console, "sandbox-failing")
    console.switch_page("app_pages/history.py").run()
    assert not console.exception, console.exception
    assert "`SANDBOXDS2`" in texts(console)


def test_the_url_preselects_a_connection_and_an_unknown_one_is_named(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["connection"] = "sandbox"
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.radio(key="connection_mode").value == USE_SAVED
    assert at.sidebar.selectbox(key="connection_saved").value == "sandbox"
    assert not next(b for b in at.button if b.label == "Start sync").disabled

    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["connection"] = "gone"
    at.run()
    assert "The link names the connection gone, which does not exist." in sidebar_texts(at)
    assert at.sidebar.selectbox(key="connection_saved").value is None


def test_going_back_to_keys_drops_the_connection_from_the_url(console):
    choose_saved(console, "sandbox")
    console.sidebar.radio(key="connection_mode").set_value(USE_KEYS).run()
    assert "connection" not in console.query_params
    sign_in(console)
    assert not next(b for b in console.button if b.label == "Start sync").disabled


def test_typed_keys_survive_a_look_at_a_saved_connection(console):
    sign_in(console)
    console.text_input(key="connection_data_source_id").input("SANDBOXDS2").run()
    choose_saved(console, "sandbox")
    console.run()  # a second run without the key fields drawn
    console.sidebar.radio(key="connection_mode").set_value(USE_KEYS).run()
    assert console.text_input(key="connection_secret_access_key").value == SECRET
    assert console.text_input(key="connection_data_source_id").value == "SANDBOXDS2"
    assert not next(b for b in console.button if b.label == "Start sync").disabled
