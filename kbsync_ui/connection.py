"""The sidebar every page shares: which data source, and with which credentials: a saved
connection (the server's own identity, DESIGN.md) or an operator's access keys.

A chosen saved connection's id is kept in the URL (`?connection=<id>`), so a reload or a new tab
keeps it; keys never are.

Credentials stay in this browser session's widget state, in server memory; nothing echoes
them back (password fields, no value ever set from the server).
"""

from dataclasses import dataclass

import streamlit as st

from kbsync_core.catalog import Choice, list_data_sources, list_knowledge_bases
from kbsync_core.connections import credentials_for
from kbsync_core.errors import AwsRequestError
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import (
    CREDENTIAL_RULES,
    NO_SPACES_OR_CONTROLS,
    NOT_TEXT,
    ONLY_VISIBLE_ASCII,
    TARGET_FIELD_RULES,
    check_fields,
    validate_credentials,
    validate_target,
)
from kbsync_ui.i18n import Texts, worded_choice

TEXTS = Texts({
    "region": ("Region", "Región"),
    "knowledgeBaseId": ("Knowledge base ID", "ID de la base de conocimiento"),
    "dataSourceId": ("Data source ID", "ID del origen de datos"),
    "accessKeyId": ("Access key ID", "ID de clave de acceso"),
    "secretAccessKey": ("Secret access key", "Clave de acceso secreta"),
    "sessionToken": ("Session token", "Token de sesión"),
    "connection": ("Connection", "Conexión"),
    "connect_with": ("Connect with", "Conectar con"),
    "saved": ("Use a saved connection", "Usar una conexión guardada"),
    "keys": ("Use access keys", "Usar claves de acceso"),
    "saved_connection": ("Saved connection", "Conexión guardada"),
    "choose_connection": ("Choose a connection", "Elija una conexión"),
    "no_connections": ("No connections saved yet", "Aún no hay conexiones guardadas"),
    "url_missing": (
        "The link names the connection {name}, which does not exist.",
        "El enlace nombra la conexión {name}, que no existe.",
    ),
    "saved_caption": (
        "Data source `{data_source}` of knowledge base `{knowledge_base}` in {region}, with the "
        "server's {kind} credentials.",
        "Origen de datos `{data_source}` de la base de conocimiento `{knowledge_base}` en "
        "{region}, con las credenciales {kind} del servidor.",
    ),
    "choose_region": ("Choose or type a region", "Elija o escriba una región"),
    "knowledge_bases": ("Knowledge bases in this account", "Bases de conocimiento de la cuenta"),
    "data_sources": (
        "Data sources of this knowledge base", "Orígenes de datos de esta base de conocimiento"
    ),
    "choose_from_account": ("Choose from the account…", "Elegir de la cuenta…"),
    "could_not_list": ("Could not list them: {reason}", "No se pudieron listar: {reason}"),
    "none_found": (
        "None found in this account and region.", "Ninguno en esta cuenta y región."
    ),
    "session_token_help": (
        "Only for temporary credentials (keys starting ASIA).",
        "Solo para credenciales temporales (claves que empiezan por ASIA).",
    ),
    "sandbox_keys": (
        "On the sandbox any keys work, e.g. AKIAIOSFODNN7EXAMPLE, or test / test as on "
        "LocalStack.",
        "En el sandbox vale cualquier clave, p. ej. AKIAIOSFODNN7EXAMPLE, o test / test como "
        "en LocalStack.",
    ),
    # Messages under a field: the field's label is right above, so they do not repeat it.
    "required": ("Required", "Obligatorio"),
    "rule_region": (
        "Must be an AWS region name such as us-east-1.",
        "Ha de ser una región de AWS, como us-east-1.",
    ),
    "rule_knowledgeBaseId": (
        "Must be exactly 10 letters or digits, such as ABCDEFGHIJ.",
        "Ha de tener exactamente 10 letras o dígitos, como ABCDEFGHIJ.",
    ),
    "rule_dataSourceId": (
        "Must be exactly 10 letters or digits, such as KLMNOPQRST.",
        "Ha de tener exactamente 10 letras o dígitos, como KLMNOPQRST.",
    ),
    "visible_ascii": (
        "Must hold visible ASCII characters only: no spaces, line breaks or control "
        "characters.",
        "Solo caracteres ASCII visibles: sin espacios, saltos de línea ni caracteres de "
        "control.",
    ),
    "no_spaces": (
        "Must not contain spaces, line breaks or control characters.",
        "No puede contener espacios, saltos de línea ni caracteres de control.",
    ),
    "too_long": ("Must be at most {count} characters.", "Como mucho {count} caracteres."),
    "not_text": (
        "Is not valid text: it contains a code that is no Unicode character.",
        "No es texto válido: contiene un código que no es un carácter Unicode.",
    ),
    # Why Start is disabled, under the button.
    "fill_in": ("Fill in: {fields}", "Complete: {fields}"),
    "correct": ("Correct: {fields}", "Corrija: {fields}"),
    "choose_saved": (
        "Choose a saved connection in the sidebar.", "Elija una conexión guardada en el menú "
        "lateral.",
    ),
})

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
MODE_KEY = "connection_mode"
SAVED_KEY = "connection_saved"
URL_MISSING_KEY = "connection_url_missing"
# Why the sidebar gives no connection yet, in the operator's words (None once it gives one).
GAP_KEY = "connection_gap"
# Set once the operator typed in a key field: from then on empty required fields say so.
TOUCHED_KEY = "connection_touched"
USE_SAVED = "saved"
USE_KEYS = "keys"
QUERY_PARAM = "connection"
FIELD_ORDER = tuple(FIELD_KEYS)


@dataclass(frozen=True)
class Connection:
    target: SyncTarget
    credentials: AwsCredentials
    # The saved connection the target and credentials come from; None for typed keys.
    connection_id: str | None = None


def _form_values() -> dict:
    return {field: st.session_state.get(key) for field, key in FIELD_KEYS.items()}


def current_connection() -> Connection | None:
    """The connection the sidebar validated in this run, when every field is valid."""
    return st.session_state.get(CONNECTION_KEY)


def connection_gap() -> str | None:
    """Why there is no connection yet (`Fill in: Secret access key`), to show as text where a
    button is disabled for it: a tooltip never shows on a touch screen."""
    return st.session_state.get(GAP_KEY)


def field_message(field: str, message: str) -> str:
    """The core's message for a field (English, naming the API field), in the console's
    language and without the field's name, which is the label right above it."""
    if message == "Required.":
        return TEXTS("required")
    if field in TARGET_FIELD_RULES and message == f"{field} {TARGET_FIELD_RULES[field][1]}":
        return TEXTS(f"rule_{field}")
    if message == f"{field} {ONLY_VISIBLE_ASCII}":
        return TEXTS("visible_ascii")
    if message == f"{field} {NO_SPACES_OR_CONTROLS}":
        return TEXTS("no_spaces")
    if field in CREDENTIAL_RULES and message.startswith(f"{field} must be at most "):
        return TEXTS("too_long", count=f"{CREDENTIAL_RULES[field][0]:,}")
    if message == NOT_TEXT.format(field=field):
        return TEXTS("not_text")
    return message


def _gap(problems: dict[str, str]) -> str | None:
    missing = [TEXTS(f) for f in FIELD_ORDER if problems.get(f) == "Required."]
    wrong = [TEXTS(f) for f in FIELD_ORDER if f in problems and problems[f] != "Required."]
    parts = []
    if missing:
        parts.append(TEXTS("fill_in", fields=", ".join(missing)))
    if wrong:
        parts.append(TEXTS("correct", fields=", ".join(wrong)))
    return ". ".join(parts) or None


def _touched() -> None:
    st.session_state[TOUCHED_KEY] = True


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
    """The field's problem, under it. "Required" only once the operator typed in a field: on a
    first visit a column of red "Required" would shout at someone who has not begun, while
    the line under Start already names what to fill in."""
    message = problems.get(field)
    if not message:
        return
    if message == "Required." and not st.session_state.get(TOUCHED_KEY):
        return
    st.caption(f":red[{field_message(field, message)}]")


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
        st.caption(f":orange[{TEXTS('could_not_list', reason=refusal)}]")
        return
    if not choices:
        st.caption(TEXTS("none_found"))
        return
    labels = {choice.id: choice.label for choice in choices}
    st.selectbox(
        label, list(labels), index=None, format_func=labels.get, key=pick_key,
        placeholder=TEXTS("choose_from_account"), on_change=_copy_pick, args=(pick_key, field),
    )


def _from_url(saved: dict) -> None:
    """On a session's first run, the connection the URL names (a reload, a new tab, a link)."""
    if MODE_KEY in st.session_state:
        return
    st.session_state[MODE_KEY] = USE_KEYS
    wanted = st.query_params.get(QUERY_PARAM)
    if wanted:
        st.session_state[MODE_KEY] = USE_SAVED
        if wanted in saved:
            st.session_state[SAVED_KEY] = wanted
        else:
            st.session_state[URL_MISSING_KEY] = wanted


def _saved_connection(saved: dict) -> Connection | None:
    with st.sidebar:
        missing = st.session_state.pop(URL_MISSING_KEY, None)
        if missing:
            st.caption(f":orange[{TEXTS('url_missing', name=missing)}]")
        if st.session_state.get(SAVED_KEY) not in saved:
            st.session_state.pop(SAVED_KEY, None)
        chosen = st.selectbox(
            TEXTS("saved_connection"), list(saved), index=None, key=SAVED_KEY,
            format_func=lambda identifier: f"{identifier} — {saved[identifier].name}",
            placeholder=TEXTS("choose_connection") if saved else TEXTS("no_connections"),
        )
        if chosen is None:
            st.query_params.pop(QUERY_PARAM, None)
            return None
        connection = saved[chosen]
        target = connection.target
        st.caption(
            TEXTS(
                "saved_caption", data_source=target.data_source_id,
                knowledge_base=target.knowledge_base_id, region=target.region,
                kind=connection.credentials["type"],
            )
        )
    st.query_params[QUERY_PARAM] = chosen
    return Connection(target, credentials_for(connection), connection.id)


def _keep_typed_fields() -> None:
    """Streamlit forgets the value of a widget it does not draw in a run; writing the values
    back as session state keeps what the operator typed (keys included, in this session's
    memory as before) for when they switch back to access keys."""
    for key in FIELD_KEYS.values():
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_connection_sidebar(kbsync: Kbsync) -> Connection | None:
    saved = {connection.id: connection for connection in kbsync.connections.list()}
    _from_url(saved)
    with st.sidebar:
        st.subheader(TEXTS("connection"))
        if st.session_state.get(MODE_KEY) not in (USE_SAVED, USE_KEYS):
            st.session_state[MODE_KEY] = USE_KEYS
        # The words are looked up now, not when the widget is drawn (AppTest formats values
        # outside a script run, where the session's language is not known).
        mode_words = {mode: TEXTS(mode) for mode in (USE_SAVED, USE_KEYS)}
        mode = st.radio(
            TEXTS("connect_with"), list(mode_words), key=worded_choice(MODE_KEY),
            format_func=mode_words.__getitem__, label_visibility="collapsed",
        )
    if mode == USE_SAVED:
        _keep_typed_fields()
        connection = _saved_connection(saved)
        st.session_state[GAP_KEY] = None if connection else TEXTS("choose_saved")
    else:
        st.query_params.pop(QUERY_PARAM, None)
        connection = _keys_connection(kbsync)
    # Kept in this session's memory (beside the widgets that hold the same keys) for the page
    # that runs next: validated once per run.
    st.session_state[CONNECTION_KEY] = connection
    return connection


def _keys_connection(kbsync: Kbsync) -> Connection | None:
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

    st.session_state[GAP_KEY] = _gap(problems)
    with st.sidebar:
        st.selectbox(
            TEXTS("region"), BEDROCK_REGIONS, key=FIELD_KEYS["region"],
            accept_new_options=True, placeholder=TEXTS("choose_region"), on_change=_touched,
        )
        _problem(problems, "region")
        st.text_input(
            TEXTS("knowledgeBaseId"), key=FIELD_KEYS["knowledgeBaseId"], on_change=_touched
        )
        _problem(problems, "knowledgeBaseId")
        if credentials is not None:
            _pick_list(
                TEXTS("knowledge_bases"),
                lambda: _knowledge_bases(kbsync, credentials, credentials.cache_key,
                                         values["region"]),
                KNOWLEDGE_BASE_PICK_KEY, "knowledgeBaseId",
            )
        st.text_input(TEXTS("dataSourceId"), key=FIELD_KEYS["dataSourceId"], on_change=_touched)
        _problem(problems, "dataSourceId")
        if credentials is not None and "knowledgeBaseId" not in problems:
            _pick_list(
                TEXTS("data_sources"),
                lambda: _data_sources(kbsync, credentials, credentials.cache_key,
                                      values["region"], values["knowledgeBaseId"].strip()),
                DATA_SOURCE_PICK_KEY, "dataSourceId",
            )
        st.text_input(
            TEXTS("accessKeyId"), key=FIELD_KEYS["accessKeyId"], autocomplete="off",
            on_change=_touched,
        )
        _problem(problems, "accessKeyId")
        st.text_input(
            TEXTS("secretAccessKey"), key=FIELD_KEYS["secretAccessKey"],
            type="password", autocomplete="off", on_change=_touched,
        )
        _problem(problems, "secretAccessKey")
        st.text_input(
            TEXTS("sessionToken"), key=FIELD_KEYS["sessionToken"], type="password",
            autocomplete="off", help=TEXTS("session_token_help"), on_change=_touched,
        )
        _problem(problems, "sessionToken")
        if kbsync.settings.uses_sandbox:
            st.caption(TEXTS("sandbox_keys"))
    return _connection(values, problems, allow_ambient)
