"""The role lists and the role an e-mail address gets from them."""

import pytest

from kbsync_core.config import ConfigurationError, load_settings
from kbsync_core.roles import Role, RoleListError, RoleLists, parse_role_list, role_for


def lists(**raw: str) -> RoleLists:
    return RoleLists(**{name: parse_role_list(value) for name, value in raw.items()})


def test_entries_are_trimmed_lower_cased_and_empty_ones_dropped():
    assert parse_role_list(" Ana@Example.COM , ,@Ops.Example.com,") == (
        "ana@example.com", "@ops.example.com",
    )
    assert parse_role_list("") == parse_role_list(None) == ()


@pytest.mark.parametrize(
    "entry", ["ana", "ana@", "@", "a@b@c.com", "ana @example.com", "@exa mple.com",
              "@example..com", "ana@.com", "@example.com x"],
)
def test_bad_entries_are_refused(entry):
    with pytest.raises(RoleListError, match="neither an e-mail address nor an @domain"):
        parse_role_list(f"ok@example.com,{entry}")


def test_an_address_entry_matches_that_address_case_insensitively():
    roles = lists(operators="Ana@Example.com")
    assert roles.role_for("ana@example.com") is Role.OPERATOR
    assert roles.role_for("ANA@EXAMPLE.COM") is Role.OPERATOR
    assert roles.role_for("  ana@example.com ") is Role.OPERATOR
    assert roles.role_for("bob@example.com") is None
    assert roles.role_for("ana@example.com.evil.org") is None
    assert roles.role_for("xana@example.com") is None


def test_a_domain_entry_matches_every_address_of_exactly_that_domain():
    roles = lists(viewers="@example.com")
    assert roles.role_for("anyone@EXAMPLE.com") is Role.VIEWER
    assert roles.role_for("anyone@sub.example.com") is None
    assert roles.role_for("anyone@notexample.com") is None
    assert roles.role_for("anyone@example.com.evil.org") is None


def test_the_highest_role_wins():
    roles = lists(viewers="@example.com", operators="ana@example.com", admins="root@example.com")
    assert roles.role_for("eve@example.com") is Role.VIEWER
    assert roles.role_for("ana@example.com") is Role.OPERATOR
    assert role_for("root@example.com", roles) is Role.ADMIN
    assert lists(admins="@example.com", viewers="ana@example.com").role_for(
        "ana@example.com"
    ) is Role.ADMIN


@pytest.mark.parametrize("email", [None, "", "ana", "@example.com", "ana@", 42, "a@b@"])
def test_no_usable_address_gets_no_role(email):
    assert lists(viewers="@example.com", admins="@b").role_for(email) is None


def test_nobody_is_let_in_by_empty_lists():
    assert RoleLists().role_for("ana@example.com") is None


def test_what_each_role_may_do():
    assert not Role.VIEWER.can_operate
    assert Role.OPERATOR.can_operate and not Role.OPERATOR.can_administer
    assert Role.ADMIN.can_operate and Role.ADMIN.can_administer
    assert [role.label for role in Role] == ["viewer", "operator", "admin"]


def test_settings_read_the_three_lists():
    settings = load_settings(
        {"KBSYNC_VIEWERS": "@example.com", "KBSYNC_OPERATORS": "Ana@Example.com",
         "KBSYNC_ADMINS": "root@example.com, @admins.example.com"}
    )
    assert settings.roles.viewers == ("@example.com",)
    assert settings.roles.operators == ("ana@example.com",)
    assert settings.roles.admins == ("root@example.com", "@admins.example.com")
    assert load_settings({}).roles == RoleLists()


@pytest.mark.parametrize("name", ["KBSYNC_VIEWERS", "KBSYNC_OPERATORS", "KBSYNC_ADMINS"])
def test_a_bad_list_names_its_variable(name):
    with pytest.raises(ConfigurationError, match=f"{name} takes e-mail addresses.*'nobody'"):
        load_settings({name: "ana@example.com, nobody"})
