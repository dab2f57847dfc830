"""The app entry: first-run administrator, sign-in, role-filtered navigation, sign-out."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import audit, db
from crimeviz.web import navigation
from tests.conftest import ROOT

PASSWORD = "a long test password"


@pytest.fixture
def store(toronto_db, tmp_path, monkeypatch):
    path = tmp_path / "auth.duckdb"
    shutil.copy(toronto_db, path)
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    return path


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="signin_user").input(name)
    at.text_input(key="signin_password").input(password)
    return at.button[0].click().run()


def add_users(path, **roles):
    con = db.connect(path)
    for name, role in roles.items():
        auth.add_user(con, name, PASSWORD, role)
    con.close()


def test_first_run_creates_the_administrator(store):
    at = app().run()
    assert at.subheader[0].value == "Create the first administrator"
    at.text_input(key="signin_repeat").input(PASSWORD)
    sign_in(at, "chief")
    assert not at.exception
    assert at.session_state["user"] == auth.User("chief", "chief", "admin")


def test_wrong_password_is_refused_and_audited(store):
    add_users(store, ana="analyst")
    at = sign_in(app().run(), "ana", "wrong password!!")
    assert "wrong user name or password" in at.error[0].value
    assert "user" not in at.session_state
    con = db.connect(store)
    assert audit.entries(con, action="sign_in.failed")["object_id"].tolist() == ["ana"]
    con.close()


def test_navigation_lists_only_what_the_role_may_use():
    def titles(role):
        return [t for pages in navigation.visible(auth.User("x", "x", role)).values() for _, t, _ in pages]

    assert titles("analyst") == [
        "Map",
        "Trends",
        "Hotspots",
        "Near repeats",
        "Emerging hot spots",
        "Bulletin",
        "Areas",
        "Saved views",
        "Street view",
        "Forecast",
    ]
    assert titles("reviewer") == ["CCTV review", "Live cameras"]
    assert titles("commander") == titles("analyst") + ["Patrol plans", "Patrol dosage"]
    assert "Data" not in titles("commander") and "Users & audit" not in titles("commander")
    assert set(titles("admin")) == {title for _, _, title, _, _ in navigation.PAGES}


def test_signed_in_analyst_lands_on_the_map(store):
    add_users(store, ana="analyst")
    at = sign_in(app().run(), "ana")
    assert not at.exception
    assert at.title[0].value == "Incident map"


def test_sign_out(store):
    add_users(store, ana="analyst")
    at = sign_in(app().run(), "ana")
    at.button(key="sign_out").click().run()
    assert "user" not in at.session_state
    assert any("Access denied" in e.value for e in at.error) or at.button[0].label == "Sign in"
    con = db.connect(store)
    assert audit.entries(con, action="sign_out")["username"].tolist() == ["ana"]
    con.close()


OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test only",
    "client_id": "crimeviz",
    "client_secret": "test only",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


def test_identity_provider_button_appears_when_auth_is_configured(store):
    add_users(store, root="admin")
    at = app()
    at.secrets["auth"] = OIDC
    at.run()
    assert [b.label for b in at.button][0] == "Sign in with your organisation's account"
    plain = app().run()  # no [auth] secrets: the local form only
    assert [b.label for b in plain.button] == ["Sign in"]


def test_identity_provider_sign_in_maps_the_email_to_a_role_and_is_audited(store, secrets_file):
    add_users(store, root="admin")
    secrets_file.write_text(secrets_file.read_text() + '\n[crimeviz.oidc_roles]\n"ana@police.example" = "analyst"\n')
    at = app()
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "ana@police.example", "name": "Ana", "email_verified": True}
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["user"] == auth.User("ana@police.example", "Ana", "analyst")
    con = db.connect(store)
    entry = audit.entries(con, action="sign_in").iloc[0]
    con.close()
    assert entry["object_id"] == "ana@police.example" and "openid-connect" in entry["detail"]


def test_identity_provider_user_without_a_role_sees_why_and_gets_no_page(store):
    add_users(store, root="admin")
    at = app()
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "eve@example.com", "email_verified": True}
    at.run()
    assert "eve@example.com has no CrimeViz role" in at.error[0].value
    assert "user" not in at.session_state and not at.metric
    assert at.button[0].label == "Sign out of the identity provider"


def test_every_page_gets_the_app_stylesheet(store):
    """The sign-in page and the pages behind it carry crimeviz/app.css, whose rules make stale
    content dim in one step and leave maps undimmed (see the file for the measurements)."""
    add_users(store, ana="analyst")

    def styled(at: AppTest) -> bool:
        return any(
            "transition: opacity 0s linear 1s" in el.proto.body
            and ':has([data-testid="stDeckGlJsonChart"])' in el.proto.body
            for el in at.get("html")
        )

    at = app().run()
    assert styled(at)
    assert styled(sign_in(at, "ana"))
