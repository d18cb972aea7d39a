"""Who may do what in the console: the role lists (KBSYNC_VIEWERS, KBSYNC_OPERATORS,
KBSYNC_ADMINS) and the role an e-mail address gets from them.

An entry is an address (`ana@example.com`, matched case-insensitively) or a whole domain
(`@example.com`, every address of exactly that domain, not its subdomains). Roles go by the ID
token's `email` claim, never the subject. A user on several lists gets the highest role.
"""

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1  # reads: History, watching executions
    OPERATOR = 2  # starts and stops syncs
    ADMIN = 3  # everything

    @property
    def can_operate(self) -> bool:
        return self >= Role.OPERATOR

    @property
    def can_administer(self) -> bool:
        return self >= Role.ADMIN

    @property
    def label(self) -> str:
        return self.name.lower()


class RoleListError(ValueError):
    """An entry of a role list is neither an address nor an @domain."""


def _is_domain(text: str) -> bool:
    labels = text.split(".")
    return bool(text) and all(labels) and not any(c.isspace() or c in "@,;<>" for c in text)


def parse_role_list(raw: str | None) -> tuple[str, ...]:
    """`a@x.org, @y.org` -> ("a@x.org", "@y.org"), lower-cased; RoleListError on a bad entry."""
    entries = []
    for part in (raw or "").split(","):
        entry = part.strip().lower()
        if not entry:
            continue
        local, at, domain = entry.rpartition("@")
        if not at or "@" in local or not _is_domain(domain) or any(c.isspace() for c in local):
            raise RoleListError(
                f"{part.strip()!r} is neither an e-mail address nor an @domain entry."
            )
        entries.append(entry)
    return tuple(entries)


def _matches(email: str, entries: tuple[str, ...]) -> bool:
    domain = "@" + email.rpartition("@")[2]
    return email in entries or domain in entries


@dataclass(frozen=True)
class RoleLists:
    viewers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()

    def role_for(self, email: str | None) -> Role | None:
        """The highest role the lists give this address; None for no address or no list."""
        if not isinstance(email, str):
            return None
        email = email.strip().lower()
        local, at, domain = email.rpartition("@")
        if not at or not local or not _is_domain(domain):
            return None
        for role, entries in (
            (Role.ADMIN, self.admins), (Role.OPERATOR, self.operators),
            (Role.VIEWER, self.viewers),
        ):
            if _matches(email, entries):
                return role
        return None


def role_for(email: str | None, lists: RoleLists) -> Role | None:
    return lists.role_for(email)
