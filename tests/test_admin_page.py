"""Users & audit page: lists show the change just made; lock-outs are visible and can be cleared."""

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import audit, db
from tests.conftest import ROOT

PASSWORD = "a long test password"


@pytest.fixture
def admin_page(app_db):
    con = db.connect(app_db)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "cmd", PASSWORD, "commander")
    con.close()
    at = AppTest.from_file(str(ROOT / "app_pages" / "admin.py"), default_timeout=60)
    at.session_state["user"] = auth.User("root", "root", "admin")
    return at.run()


def lock_out(app_db, name: str) -> None:
    con = db.connect(app_db)
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AccessDenied):
            auth.sign_in(con, name, "not the password")
    con.close()


def table(at: AppTest, column: str):
    """The first table with ``column`` (AppTest finds tables by position, not by key)."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def users_table(at: AppTest) -> list[str]:
    return table(at, "display_name")["username"].tolist()


def test_added_user_is_in_the_users_table_at_once(admin_page):
    admin_page.text_input(key="new_user").input("rev")
    admin_page.text_input(key="new_password").input(PASSWORD)
    admin_page.selectbox(key="new_role").set_value("reviewer")
    admin_page.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not admin_page.exception
    assert "Added rev as reviewer." in [s.value for s in admin_page.success]
    assert "rev" in users_table(admin_page)


def test_locked_account_is_listed_and_an_admin_clears_it(admin_page, app_db):
    lock_out(app_db, "cmd")
    admin_page.run()
    locked = table(admin_page, "locked_until")
    assert locked["username"].tolist() == ["cmd"] and locked["failures"].tolist() == [auth.MAX_FAILURES]
    admin_page.selectbox(key="unlock_user").set_value("cmd")
    admin_page.button(key="unlock").click().run()
    assert not admin_page.exception
    assert "Cleared the lock-out of cmd." in [s.value for s in admin_page.success]
    assert table(admin_page, "locked_until") is None
    con = db.connect(app_db)
    assert auth.sign_in(con, "cmd", PASSWORD).role == "commander"
    cleared = audit.entries(con, action="sign_in.unlocked").iloc[0]
    con.close()
    assert (cleared["username"], cleared["object_id"]) == ("root", "cmd")


def test_password_reset_lifts_the_lock_out(empty_store):
    auth.add_user(empty_store, "cmd", PASSWORD, "commander")
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AccessDenied):
            auth.sign_in(empty_store, "cmd", "not the password")
    assert auth.locked_accounts(empty_store)["username"].tolist() == ["cmd"]
    auth.update_user(empty_store, "cmd", by="root", password="a brand new password")
    assert auth.locked_accounts(empty_store).empty
    assert auth.sign_in(empty_store, "cmd", "a brand new password").username == "cmd"


def test_lock_out_lifts_when_the_fifth_latest_failure_is_older_than_the_window(empty_store):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AccessDenied):
            auth.sign_in(empty_store, "ana", "not the password")
    until = auth.locked_accounts(empty_store)["locked_until"].iloc[0]
    assert auth.locked_accounts(empty_store, until - auth.LOCKOUT / 15)["username"].tolist() == ["ana"]
    assert auth.locked_accounts(empty_store, until + auth.LOCKOUT / 15).empty
