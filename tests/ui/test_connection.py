"""The sidebar: labels, sandbox prefill and banner, per-field messages, pick lists."""

from tests.ui.conftest import SECRET, sign_in
from tests.ui.helpers import sidebar_texts, texts

LABELS = [
    "Knowledge base ID", "Data source ID", "Access key ID", "Secret access key", "Session token",
]


def test_fields_are_labelled_and_the_sandbox_is_prefilled_and_announced(console):
    assert [field.label for field in console.sidebar.text_input] == LABELS
    assert console.sidebar.selectbox(key="connection_region").value == "us-east-1"
    assert console.text_input(key="connection_knowledge_base_id").value == "SANDBOXKB1"
    assert console.text_input(key="connection_data_source_id").value == "SANDBOXDS1"
    assert "Sandbox: simulated AWS, nothing leaves this machine" in texts(console)
    assert console.button[0].label == "Start sync" and console.button[0].disabled


def test_each_malformed_field_gets_the_cores_message_next_to_it(console):
    console.text_input(key="connection_knowledge_base_id").input("SHORT")
    console.text_input(key="connection_data_source_id").input("has spaces!")
    console.text_input(key="connection_access_key_id").input("not a key")
    console.text_input(key="connection_secret_access_key").input("secret")
    console.run()
    shown = sidebar_texts(console)
    assert "knowledgeBaseId must be exactly 10 letters or digits" in shown
    assert "dataSourceId must be exactly 10 letters or digits" in shown
    assert "accessKeyId must hold visible ASCII characters only" in shown
    assert console.button[0].disabled


def test_an_emulators_test_test_keys_are_taken_and_the_caption_says_so(console):
    assert "On the sandbox any keys work, e.g. AKIAIOSFODNN7EXAMPLE, or test / test as on " \
        "LocalStack." in sidebar_texts(console)
    console.text_input(key="connection_access_key_id").input("test")
    console.text_input(key="connection_secret_access_key").input("test")
    console.run()
    shown = sidebar_texts(console)
    assert "accessKeyId" not in shown and "secretAccessKey" not in shown
    assert "16" not in shown
    knowledge_bases = console.sidebar.selectbox(key="connection_pick_knowledge_base")
    assert knowledge_bases.options == ["kbsync-sandbox-knowledge-base (SANDBOXKB1)"]
    assert not console.button[0].disabled


def test_credentials_unlock_pick_lists_of_the_accounts_resources(console):
    assert len(console.sidebar.selectbox) == 1  # only Region before credentials
    sign_in(console)
    knowledge_bases = console.sidebar.selectbox(key="connection_pick_knowledge_base")
    assert knowledge_bases.options == ["kbsync-sandbox-knowledge-base (SANDBOXKB1)"]
    data_sources = console.sidebar.selectbox(key="connection_pick_data_source")
    assert "support-archive (SANDBOXDS2)" in data_sources.options
    data_sources.select("SANDBOXDS2").run()
    assert console.text_input(key="connection_data_source_id").value == "SANDBOXDS2"
    assert not console.button[0].disabled


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
    console.button[0].click().run()
    assert SECRET not in texts(console)
    assert SECRET not in sidebar_texts(console)
    assert SECRET not in str(console.get('text_input'))


def test_a_session_token_that_cannot_be_one_gets_a_message_not_an_error(console):
    sign_in(console)
    console.text_input(key="connection_session_token").input("token with spaces")
    console.run()
    assert not console.exception
    assert "sessionToken must hold visible ASCII characters only" in sidebar_texts(console)
    assert console.button[0].disabled
