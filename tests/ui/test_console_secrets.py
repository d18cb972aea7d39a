"""The console's AWS error paths never show the keys typed in the sidebar, even when AWS echoes
them back: the History page's read, the sidebar's pick lists and a failed sync's reasons.

The embedded sandbox's faults carry words of their own, so here the Bedrock client the page
gets (AwsClients.bedrock_agent) is wrapped: the named calls raise a botocore ClientError whose
message repeats the access key id, the secret and the session token; every other call goes to
the sandbox as usual.
"""

import boto3
import pytest
from botocore.exceptions import ClientError
from streamlit.testing.v1 import AppTest

from kbsync_sandbox import SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from kbsync_ui.history_view import TABLE_KEY
from tests.ui.helpers import sidebar_texts, texts

HISTORY = "app_pages/history.py"
ERROR_CODE = "UnrecognizedClientException"
ERROR_WORDS = "is not valid for this request"


def keys(name: str) -> dict[str, str]:
    """Keys of each test's own: the sidebar's pick lists are cached per credentials."""
    return {
        "access_key_id": f"ASIAKBSYNCUI{name.upper():<8}".replace(" ", "X")[:20],
        "secret": f"uiEchoedSecret/{name}+DoNotShow0123456789abcd",
        "session_token": f"IQoJb3JpZ2luX2VjEKbsyncUiEchoed{name}SessionToken0123456789",
    }


def echoing_error(operation: str, typed: dict[str, str]) -> ClientError:
    message = (
        f"The security token {typed['session_token']} of key {typed['access_key_id']} signed "
        f"with {typed['secret']} {ERROR_WORDS}."
    )
    return ClientError({"Error": {"Code": ERROR_CODE, "Message": message}}, operation)


class _FailingPaginator:
    def __init__(self, error: ClientError):
        self._error = error

    def paginate(self, **_params):
        raise self._error


class EchoingClient:
    """A bedrock-agent client whose `failing` operations (snake_case) raise AWS's echo."""

    def __init__(self, client, failing: set[str], typed: dict[str, str]):
        self._client = client
        self._failing = failing
        self._typed = typed

    def _error(self, operation: str) -> ClientError:
        name = "".join(part.title() for part in operation.split("_"))
        return echoing_error(name, self._typed)

    def get_paginator(self, operation: str):
        if operation in self._failing:
            return _FailingPaginator(self._error(operation))
        return self._client.get_paginator(operation)

    def __getattr__(self, name: str):
        if name in self._failing:

            def fail(**_params):
                raise self._error(name)

            return fail
        return getattr(self._client, name)


@pytest.fixture
def echo(kbsync, monkeypatch):
    """echo(failing, typed): from now on, the clients kbsync builds fail those operations."""

    def install(failing: set[str], typed: dict[str, str]) -> None:
        real = type(kbsync.clients).bedrock_agent

        def bedrock_agent(credentials, region):
            return EchoingClient(real(kbsync.clients, credentials, region), failing, typed)

        monkeypatch.setattr(kbsync.clients, "bedrock_agent", bedrock_agent)

    return install


def type_keys(at: AppTest, typed: dict[str, str]) -> AppTest:
    at.text_input(key="connection_access_key_id").input(typed["access_key_id"])
    at.text_input(key="connection_secret_access_key").input(typed["secret"])
    at.text_input(key="connection_session_token").input(typed["session_token"])
    at.run()
    assert not at.exception, at.exception
    return at


def shown_texts(at: AppTest) -> str:
    """Everything the app renders but the text inputs themselves (which hold what was typed):
    each element's protobuf, markdown, captions, errors, tables and labels alike."""
    parts: list[str] = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if children:
            for child in children.values():
                walk(child)
            return
        if getattr(node, "type", None) == "text_input":
            return
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for attribute in ("value", "body", "label"):
            try:
                parts.append(str(getattr(node, attribute)))
            except Exception:  # noqa: S112 - not every element has every attribute
                continue

    walk(at._tree)
    return "\n".join(parts)


def assert_nothing_echoed(at: AppTest, typed: dict[str, str]) -> None:
    shown = shown_texts(at)
    # The walk reached the error's words (so it reads what the page shows)...
    assert ERROR_CODE in shown and ERROR_WORDS in shown
    # ...and the typed keys are nowhere but in their own inputs (str(at) holds those, and the
    # session state: it is no test of what is shown).
    for name, value in typed.items():
        assert value not in shown, f"the {name} shows on the page"
        assert value not in texts(at), f"the {name} shows on the page"
        assert value not in sidebar_texts(at), f"the {name} shows in the sidebar"


def test_the_history_read_shows_awss_words_without_the_keys(console, echo):
    typed = keys("hist")
    echo({"list_ingestion_jobs"}, typed)
    type_keys(console, typed)
    console.switch_page(HISTORY).run()

    assert not console.exception, console.exception
    errors = [error.value for error in console.error]
    assert any(
        "Could not read the history from AWS" in error and ERROR_CODE in error
        and ERROR_WORDS in error
        for error in errors
    ), errors
    assert_nothing_echoed(console, typed)


def test_the_sidebar_pick_lists_show_awss_words_without_the_keys(console, echo):
    typed = keys("picks")
    echo({"list_knowledge_bases", "list_data_sources"}, typed)
    type_keys(console, typed)

    refusals = [
        caption.value for caption in console.sidebar.caption
        if "Could not list them" in caption.value
    ]
    assert len(refusals) == 2, [caption.value for caption in console.sidebar.caption]
    for refusal in refusals:
        assert ERROR_CODE in refusal and ERROR_WORDS in refusal, refusal
    assert_nothing_echoed(console, typed)


def test_the_failure_reasons_show_awss_words_without_the_keys(kbsync, console, echo):
    typed = keys("reasons")
    echo({"get_ingestion_job"}, typed)
    type_keys(console, typed)
    console.text_input(key="connection_data_source_id").input("SANDBOXDS2").run()
    # A sync started outside kbsync that fails: only AWS knows it, and its listing leaves the
    # reasons out, so selecting it asks AWS for the job (the call that fails here).
    boto3.client("bedrock-agent", region_name=SANDBOX_REGION).start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId="SANDBOXDS2"
    )
    kbsync.sandbox.finish_running_jobs()
    console.switch_page(HISTORY).run()
    console.button[0].click().run()  # Refresh from AWS
    assert list(console.dataframe[0].value["Status"]) == ["❌ Failed"]

    console.session_state[TABLE_KEY] = {"selection": {"rows": [0], "columns": []}}
    console.run()

    assert not console.exception, console.exception
    errors = [error.value for error in console.error]
    assert any(
        "Could not read the failure reasons" in error and ERROR_CODE in error
        and ERROR_WORDS in error
        for error in errors
    ), errors
    assert_nothing_echoed(console, typed)
