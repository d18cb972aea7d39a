"""The sidebar every page shares: which data source, and with which credentials.

Credentials stay in this browser session's widget state, in server memory; nothing echoes
them back (password fields, no value ever set from the server).
"""

from dataclasses import dataclass

import streamlit as st

from kbsync_core.catalog import Choice, list_data_sources, list_knowledge_bases
from kbsync_core.errors import AwsRequestError
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import FIELD_LABELS, check_fields, validate_credentials, validate_target

# Regions where Bedrock Knowledge Bases are offered; any other region name may be typed.
BEDROCK_REGIONS = [
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2", "us-gov-west-1",
]
CATALOG_TTL_SECONDS = 60

# Widget keys, by the API field each one fills.
FIELD_KEYS = {
    "region": "connection_region",
    "knowledgeBaseId": "connection_knowledge_base_id",
    "dataSourceId": "connection_data_source_id",
    "accessKeyId": "connection_access_key_id",
    "secretAccessKey": "connection_secret_access_key",
    "sessionToken": "connection_session_token",
}
KNOWLEDGE_BASE_PICK_KEY = "connection_pick_knowledge_base"
CONNECTION_KEY = "connection_validated"
DATA_SOURCE_PICK_KEY = "connection_pick_data_source"


@dataclass(frozen=True)
class Connection:
    target: SyncTarget
    credentials: AwsCredentials


def _form_values() -> dict:
    return {field: st.session_state.get(key) for field, key in FIELD_KEYS.items()}


def current_connection() -> Connection | None:
    """The connection the sidebar validated in this run, when every field is valid."""
    return st.session_state.get(CONNECTION_KEY)


def _connection(values: dict, problems: dict, allow_ambient: bool) -> Connection | None:
    if problems:
        return None
    return Connection(
        validate_target(values), validate_credentials(values, allow_ambient=allow_ambient)
    )


def _prefill(kbsync: Kbsync) -> None:
    suggested = kbsync.suggested_target  # the sandbox's sample data source, on the sandbox
    if suggested is None:
        st.session_state.setdefault(FIELD_KEYS["region"], None)
        return
    st.session_state.setdefault(FIELD_KEYS["region"], suggested.region)
    st.session_state.setdefault(FIELD_KEYS["knowledgeBaseId"], suggested.knowledge_base_id)
    st.session_state.setdefault(FIELD_KEYS["dataSourceId"], suggested.data_source_id)


def _problem(problems: dict[str, str], field: str) -> None:
    """The core's message for a field, under it; silence for a field not typed in yet."""
    message = problems.get(field)
    if message and message != "Required.":
        st.caption(f":red[{message}]")


def _catalog_answer(load) -> tuple[list[Choice], str | None]:
    """The choices, or AWS's reason for refusing them: both are cached, so a refusal is not
    asked again on every rerun of the sidebar."""
    try:
        return load(), None
    except AwsRequestError as error:
        return [], str(error)


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def _knowledge_bases(_kbsync: Kbsync, _credentials: AwsCredentials, cache_key, region):
    return _catalog_answer(lambda: list_knowledge_bases(_kbsync.clients, _credentials, region))


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def _data_sources(_kbsync: Kbsync, _credentials: AwsCredentials, cache_key, region, kb_id):
    return _catalog_answer(
        lambda: list_data_sources(_kbsync.clients, _credentials, region, kb_id)
    )


def _copy_pick(pick_key: str, field: str) -> None:
    picked = st.session_state.get(pick_key)
    if picked:
        st.session_state[FIELD_KEYS[field]] = picked


def _pick_list(label: str, load, pick_key: str, field: str) -> None:
    """A pick list of what the account has, beside manual entry; an AWS error says why not."""
    choices, refusal = load()
    if refusal:
        st.caption(f":orange[Could not list them: {refusal}]")
        return
    if not choices:
        st.caption("None found in this account and region.")
        return
    labels = {choice.id: choice.label for choice in choices}
    st.selectbox(
        label, list(labels), index=None, format_func=labels.get, key=pick_key,
        placeholder="Choose from the account…", on_change=_copy_pick, args=(pick_key, field),
    )


def render_connection_sidebar(kbsync: Kbsync) -> Connection | None:
    _prefill(kbsync)
    values = _form_values()
    allow_ambient = kbsync.settings.allow_ambient_credentials
    problems = check_fields(values, allow_ambient=allow_ambient)
    credentials = None
    # The pick lists need a region, and keys validate_credentials takes (it raises on any key
    # field check_fields refused).
    credential_fields = ("accessKeyId", "secretAccessKey", "sessionToken", "region")
    if not any(field in problems for field in credential_fields):
        credentials = validate_credentials(values, allow_ambient=allow_ambient)

    with st.sidebar:
        st.subheader("Connection")
        st.selectbox(
            FIELD_LABELS["region"], BEDROCK_REGIONS, key=FIELD_KEYS["region"],
            accept_new_options=True, placeholder="Choose or type a region",
        )
        _problem(problems, "region")
        st.text_input(FIELD_LABELS["knowledgeBaseId"], key=FIELD_KEYS["knowledgeBaseId"])
        _problem(problems, "knowledgeBaseId")
        if credentials is not None:
            _pick_list(
                "Knowledge bases in this account",
                lambda: _knowledge_bases(kbsync, credentials, credentials.cache_key,
                                         values["region"]),
                KNOWLEDGE_BASE_PICK_KEY, "knowledgeBaseId",
            )
        st.text_input(FIELD_LABELS["dataSourceId"], key=FIELD_KEYS["dataSourceId"])
        _problem(problems, "dataSourceId")
        if credentials is not None and "knowledgeBaseId" not in problems:
            _pick_list(
                "Data sources of this knowledge base",
                lambda: _data_sources(kbsync, credentials, credentials.cache_key,
                                      values["region"], values["knowledgeBaseId"].strip()),
                DATA_SOURCE_PICK_KEY, "dataSourceId",
            )
        st.text_input(
            FIELD_LABELS["accessKeyId"], key=FIELD_KEYS["accessKeyId"], autocomplete="off"
        )
        _problem(problems, "accessKeyId")
        st.text_input(
            FIELD_LABELS["secretAccessKey"], key=FIELD_KEYS["secretAccessKey"],
            type="password", autocomplete="off",
        )
        _problem(problems, "secretAccessKey")
        st.text_input(
            FIELD_LABELS["sessionToken"], key=FIELD_KEYS["sessionToken"], type="password",
            autocomplete="off", help="Only for temporary credentials (keys starting ASIA).",
        )
        _problem(problems, "sessionToken")
        if kbsync.settings.uses_sandbox:
            st.caption(
                "On the sandbox any keys work, e.g. AKIAIOSFODNN7EXAMPLE, or test / test "
                "as on LocalStack."
            )
    # Kept in this session's memory (beside the widgets that hold the same keys) for the page
    # that runs next: validated once per run.
    st.session_state[CONNECTION_KEY] = _connection(values, problems, allow_ambient)
    return st.session_state[CONNECTION_KEY]
