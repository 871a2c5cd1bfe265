"""The platform seen through a real browser: a designer, an end user and an administrator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

SECRET = "browser-secret-7c1d9a0b-never-shown"


def test_login_page(page, live_demo, shot, phone_page):
    page.goto(f"{live_demo['url']}/tools/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-login")
    page.get_by_label("Username").fill("designer")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_be_visible()
    shot(page, "01-login-error")
    phone_page.goto(f"{live_demo['url']}/accounts/login/")
    shot(phone_page, "01-login-phone")


def test_designer_creates_a_connection_and_never_sees_the_secret(page, live_demo, shot):
    from connections.models import Connection

    login(page, live_demo["url"], "designer", "demo-designer-pass")
    expect(page.get_by_role("heading", name="My connections")).to_be_visible()
    expect(page.get_by_text("Everyone at Demo Company")).to_be_visible()
    shot(page, "02-my-connections")
    page.get_by_role("link", name="New connection to Demo notes").click()
    expect(page.get_by_role("heading", name="New connection to Demo notes")).to_be_visible()
    page.get_by_label(re.compile(r"^Name")).fill("Support notes")
    page.get_by_label("API key", exact=True).fill(SECRET)
    page.get_by_label("Only some groups of my organisation").check()
    page.get_by_label("Support team").check()
    shot(page, "03-new-connection")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_text("The connection “Demo notes / Support notes” is ready.")).to_be_visible()
    expect(page.get_by_text("Group Support team")).to_be_visible()
    shot(page, "04-connection-created")
    assert SECRET not in page.content()
    page.goto(f"{live_demo['url']}/connections/new/{live_demo['connector'].pk}/")
    assert SECRET not in page.content()
    assert Connection.objects.filter(name="Support notes").exists()


def test_bad_connection_form_shows_errors(page, live_demo, shot):
    login(page, live_demo["url"], "designer", "demo-designer-pass")
    page.goto(f"{live_demo['url']}/connections/new/{live_demo['connector'].pk}/")
    page.get_by_label(re.compile(r"^Name")).fill("<script>window.__owned = 1</script>")
    page.get_by_role("button", name="Create connection").click()
    expect(page.locator(".error-summary")).to_be_visible()
    shot(page, "05-new-connection-errors")
    assert page.evaluate("window.__owned === undefined")


def _call_create_note(page, live_demo, title: str) -> None:
    page.goto(f"{live_demo['url']}/tools/")
    page.get_by_role("link", name="Create a note").click()
    expect(page.get_by_role("heading", name=re.compile("Create a note"))).to_be_visible()
    page.get_by_label("title").fill(title)
    page.get_by_label("priority").select_option("high")
    page.get_by_label("tags").fill("demo\nbrowser")
    page.get_by_role("button", name="Ask to call").click()
    expect(page.locator("#invocation-status")).to_have_text("Awaiting confirmation")


def test_end_user_calls_approves_and_sees_the_result(page, live_demo, invocations_app, celery_worker, shot, phone_page):
    login(page, live_demo["url"], "user", "demo-user-pass")
    expect(page.get_by_role("heading", name="Tools")).to_be_visible()
    shot(page, "06-tools")
    page.get_by_role("link", name="Create a note").click()
    shot(page, "07-try-it")
    _call_create_note(page, live_demo, "Buy <b>milk</b>")
    shot(page, "08-awaiting")
    page.get_by_role("link", name=re.compile("^Confirmations")).click()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    expect(page.get_by_text("X-API-Key")).to_be_visible()
    assert "demo-notes-key" not in page.content()  # the credential is redacted from the preview
    shot(page, "09-confirmations")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Nothing waits for your decision.")).to_be_visible()
    page.get_by_role("link", name="History").click()
    shot(page, "10-history")
    page.locator("table a").first.click()
    expect(page.locator("#invocation-status")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#result-body")).to_contain_text("Buy <b>milk</b>")
    shot(page, "11-result")
    phone_page.context.add_cookies(page.context.cookies())
    phone_page.goto(page.url)
    shot(phone_page, "11-result-phone")


def test_rejected_and_failing_calls_show_their_errors(page, live_demo, invocations_app, celery_worker, shot):
    login(page, live_demo["url"], "user", "demo-user-pass")
    _call_create_note(page, live_demo, "Never sent")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#invocation-status")).to_have_text("Rejected")
    shot(page, "12-rejected")
    page.goto(f"{live_demo['url']}/tools/")
    page.get_by_role("link", name="Daily report (always fails)").click()
    page.get_by_role("button", name="Call").click()
    expect(page.locator("#invocation-status")).to_have_text("Failed", timeout=30_000)
    expect(page.get_by_role("heading", name="Error")).to_be_visible()
    expect(page.get_by_role("region", name="Error")).to_contain_text("500")
    shot(page, "13-failed")
    page.goto(f"{live_demo['url']}/history/?status=failed")
    expect(page.locator("table")).to_contain_text("Failed")
    shot(page, "14-history-filtered")


def test_admin_switches_an_integration_type_off_and_the_tool_disappears(browser, page, live_demo, shot):
    login(page, live_demo["url"], "user", "demo-user-pass")
    expect(page.get_by_role("link", name="List notes")).to_be_visible()
    admin_context = browser.new_context()
    admin = admin_context.new_page()
    login(admin, live_demo["url"], "admin", "demo-admin-pass")
    expect(admin.get_by_role("link", name="Admin")).to_be_visible()
    admin.get_by_role("link", name="Admin").click()
    # The organisation's own switch (the installation's is the operator's).
    admin.goto(f"{live_demo['url']}/admin/connectors/organisationintegrationtype/")
    admin.get_by_role("link", name="Custom OpenAPI").click()
    admin.get_by_label("Enabled").uncheck()
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("changed successfully")
    shot(admin, "15-admin-switched-off")
    admin_context.close()
    page.reload()
    expect(page.get_by_role("link", name="List notes")).to_have_count(0)
    expect(page.get_by_text("No tool can be called now")).to_be_visible()
    expect(page.locator("#unavailable")).to_contain_text("Demo notes / Demo notes (company)")
    expect(page.locator("#unavailable")).to_contain_text(
        "is switched off for this organisation by its platform administrators"
    )
    shot(page, "16-tools-after-switch-off")


@pytest.mark.parametrize("path", ["/history/", "/confirmations/"])
def test_pages_render_for_keyboard_users(page, live_demo, invocations_app, path):
    login(page, live_demo["url"], "user", "demo-user-pass")
    page.goto(f"{live_demo['url']}{path}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to content"


def test_error_pages_and_a_switched_off_tool(page, live_demo, shot):
    from accesscontrol.tools import tool_name

    login(page, live_demo["url"], "user", "demo-user-pass")
    page.goto(f"{live_demo['url']}/connections/")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Only process designers design with connections.")).to_be_visible()
    expect(page.get_by_role("link", name="Tools").first).to_be_visible()
    shot(page, "20-error-403")
    page.goto(f"{live_demo['url']}/no/such/page/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    shot(page, "21-error-404")
    integration_type = live_demo["connector"].integration_type
    integration_type.enabled = False
    integration_type.save()
    page.goto(f"{live_demo['url']}/tools/{tool_name(live_demo['connection'].pk, 'listNotes')}/")
    expect(page.get_by_text("This tool is unavailable: The integration type")).to_be_visible()
    shot(page, "22-tool-unavailable")


def test_connection_form_shows_every_error_at_once(page, live_demo, shot):
    login(page, live_demo["url"], "designer", "demo-designer-pass")
    page.goto(f"{live_demo['url']}/connections/new/{live_demo['connector'].pk}/")
    page.get_by_label(re.compile(r"^Name")).fill("Half done")
    page.get_by_label("Only some people of my organisation").check()
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_text("Choose at least one person.")).to_be_visible()
    expect(page.locator("#id_cred0_secret_key_error")).to_be_visible()
    shot(page, "23-connection-form-errors")
