"""Who is at the console: login (st.login, OIDC, configured by an [auth] section in
.streamlit/secrets.toml) and the role the core gives their e-mail address.

Without an [auth] section the console is open to whoever reaches it (the server then listens on
127.0.0.1 only, .streamlit/config.toml); with one, nothing of the console runs for a visitor who
is not logged in, or whose address is on none of the role lists.
"""

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from kbsync_core.roles import Role, RoleLists
from kbsync_ui.i18n import Texts

TEXTS = Texts({
    "open": (
        "Login is not configured: this console is open to whoever reaches it. "
        "Configure login before serving it beyond this machine.",
        "El inicio de sesión no está configurado: esta consola está abierta a quien llegue a "
        "ella. Configúrelo antes de servirla fuera de esta máquina.",
    ),
    "operator_needed": (
        "Starting and stopping syncs needs the operator role.",
        "Iniciar y detener sincronizaciones requiere el rol de operador.",
    ),
    "not_allowed": (
        "You are logged in as {email}, but that address has no role in kbsync.",
        "Ha iniciado sesión como {email}, pero esa dirección no tiene ningún rol en kbsync.",
    ),
    "no_email": (
        "Your identity provider did not give kbsync a verified e-mail address.",
        "Su proveedor de identidad no dio a kbsync una dirección de correo verificada.",
    ),
    "ask_admin": ("Ask an administrator to add you.", "Pida a un administrador que le añada."),
    "log_in_to_use": ("Log in to use the console.", "Inicie sesión para usar la consola."),
    "log_in": ("Log in", "Iniciar sesión"),
    "log_out": ("Log out", "Cerrar sesión"),
    "logged_in_as": ("Logged in as **{email}** ({role})", "Sesión de **{email}** ({role})"),
    "viewer": ("viewer", "lector"),
    "operator": ("operator", "operador"),
    "admin": ("admin", "administrador"),
})


# The English sentence, for the pages that have not moved to operator_needed() yet.
OPERATOR_NEEDED = TEXTS.both("operator_needed")[0]


def operator_needed() -> str:
    return TEXTS("operator_needed")


def open_banner() -> str:
    return TEXTS("open")


def login_configured() -> bool:
    """Whether st.secrets has an [auth] section (read only through st.secrets)."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all
        return False


def current_email() -> str | None:
    """The logged-in user's `email` claim (never the subject), unless the provider says it is
    not verified."""
    user = st.user.to_dict()
    if user.get("is_logged_in") is not True:
        return None
    email = user.get("email")
    if not isinstance(email, str) or user.get("email_verified") is False:
        return None
    return email.strip() or None


@dataclass(frozen=True)
class Access:
    login_configured: bool
    logged_in: bool = False
    email: str | None = None
    role: Role | None = None

    @property
    def can_read(self) -> bool:
        return self.role is not None

    @property
    def can_operate(self) -> bool:
        return self.role is not None and self.role.can_operate


def current_access(roles: RoleLists) -> Access:
    """This run's visitor: everything when login is not configured (the console as it always
    was, on 127.0.0.1), else what their address's role allows."""
    if not login_configured():
        return Access(login_configured=False, role=Role.ADMIN)
    logged_in = st.user.to_dict().get("is_logged_in") is True
    email = current_email()
    return Access(True, logged_in, email, roles.role_for(email))


def login_page() -> None:
    st.title("kbsync")
    st.write(TEXTS("log_in_to_use"))
    if st.button(TEXTS("log_in"), type="primary", icon=":material/login:", key="auth_login"):
        st.login()


def _logout_button() -> None:
    if st.button(TEXTS("log_out"), icon=":material/logout:", key="auth_logout"):
        st.logout()


def not_allowed_page(access: Access) -> None:
    st.title("kbsync")
    message = TEXTS("not_allowed", email=access.email) if access.email else TEXTS("no_email")
    st.error(f"{message} {TEXTS('ask_admin')}", icon=":material/block:")
    _logout_button()


def render_identity(access: Access) -> None:
    """The sidebar's top: who is logged in, their role, and the way out."""
    with st.sidebar:
        st.caption(TEXTS("logged_in_as", email=access.email, role=TEXTS(access.role.label)))
        _logout_button()
