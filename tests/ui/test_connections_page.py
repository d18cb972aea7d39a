"""The Connections page: list, test, and an admin's add, edit and delete."""

from streamlit.testing.v1 import AppTest

from kbsync_ui.connections_view import form_key
from tests.ui.conftest import APP
from tests.ui.helpers import texts

PAGE = "app_pages/connections.py"
SANDBOX_IDS = ["sandbox", "sandbox-custom", "sandbox-failing"]  # the connections kbsync starts with


def open_page(kbsync) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def listed_ids(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["ID"])


def button(at: AppTest, key: str):
    return at.button(key=key)


def fill(at: AppTest, prefix: str, **fields) -> None:
    for field, value in fields.items():
        at.text_input(key=form_key(prefix, field)).input(value)


def test_the_sandbox_connections_are_listed(kbsync):
    at = open_page(kbsync)
    assert at.title[0].value == "Connections"
    assert listed_ids(at) == SANDBOX_IDS
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "ID", "Name", "Region", "Knowledge base", "Data source", "Credentials",
    ]
    assert list(table["Credentials"]) == ["default", "default", "default"]


def test_testing_sandbox_shows_its_names_and_s3(kbsync):
    at = open_page(kbsync)
    assert at.selectbox(key="connections_pick").value == "sandbox"
    button(at, "connections_test").click().run()
    assert not at.exception, at.exception
    shown = "\n".join(str(element.value) for element in at.success)
    base = kbsync.connections.test("sandbox")
    assert f"Knowledge base **{base['knowledgeBase']['name']}**" in shown
    assert f"Data source **{base['dataSource']['name']}**" in shown
    assert "type S3" in shown
    assert f"Bucket `{base['dataSource']['bucket']}`" in shown


def test_an_admin_adds_edits_and_deletes_a_connection(kbsync):
    at = open_page(kbsync)
    fill(at, "add", id="orders-kb", name="Orders", region="eu-west-1",
         knowledgeBaseId="ORDERSKB01", dataSourceId="ORDERSDS01")
    at.selectbox(key=form_key("add", "type")).set_value("profile").run()
    fill(at, "add", profile="orders-reader")
    button(at, form_key("add", "save")).click().run()
    assert not at.exception, at.exception
    assert "Saved the connection orders-kb." in texts(at) + str([s.value for s in at.success])
    assert listed_ids(at) == ["orders-kb", *SANDBOX_IDS]
    # The add form is empty again, for the next one.
    assert at.text_input(key=form_key("add", "id")).value == ""
    assert at.selectbox(key=form_key("add", "type")).value == "default"
    saved = kbsync.connections.get("orders-kb")
    assert saved.credentials == {"type": "profile", "profile": "orders-reader"}
    assert not any("secret" in field.label.lower() for field in at.main.text_input)

    assert at.selectbox(key="connections_pick").value == "orders-kb"
    prefix = "edit-orders-kb"
    assert at.text_input(key=form_key(prefix, "name")).value == "Orders"
    fill(at, prefix, name="Orders (EU)")
    button(at, form_key(prefix, "save")).click().run()
    assert kbsync.connections.get("orders-kb").name == "Orders (EU)"
    assert kbsync.connections.get("orders-kb").credentials["profile"] == "orders-reader"

    button(at, "connections_delete").click().run()
    button(at, "connections_delete_yes").click().run()
    assert not at.exception, at.exception
    assert [c.id for c in kbsync.connections.list()] == SANDBOX_IDS
    assert listed_ids(at) == SANDBOX_IDS


def test_a_bad_region_gets_the_cores_message_next_to_the_form(kbsync):
    at = open_page(kbsync)
    fill(at, "add", id="bad", name="Bad", region="not a region",
         knowledgeBaseId="ORDERSKB01", dataSourceId="ORDERSDS01")
    button(at, form_key("add", "save")).click().run()
    errors = [str(error.value) for error in at.error]
    assert any("must be an AWS region name such as us-east-1" in error for error in errors)
    assert [c.id for c in kbsync.connections.list()] == SANDBOX_IDS


def test_a_role_asks_for_its_arn_and_no_secret(kbsync):
    at = open_page(kbsync)
    at.selectbox(key=form_key("add", "type")).set_value("role").run()
    labels = [field.label for field in at.main.text_input]
    assert {"Role ARN", "External ID (optional)", "Session name (optional)"} <= set(labels)
    assert not any("secret" in label.lower() for label in labels)
