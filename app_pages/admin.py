"""Admin: user accounts and the audit trail."""

import streamlit as st

from crimeviz.access import auth
from crimeviz.store import audit, safe_csv
from crimeviz.web import ui

user = ui.require("users")
con = ui.connection()
st.title("Users and audit trail")

tab_users, tab_audit = st.tabs(["Users", "Audit trail"])
with tab_users:
    ui.write_notice()
    st.dataframe(auth.users(), hide_index=True, key="users_table")
    locked = auth.locked_accounts(con)
    if not locked.empty:
        st.warning(
            f"Locked out after {auth.MAX_FAILURES} failed sign-ins, until the time shown (a password reset "
            "or clearing the lock-out lets them in now):"
        )
        st.dataframe(locked, hide_index=True, key="locked_table")
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        locked_name = a.selectbox("Locked account", locked["username"], key="unlock_user")
        if b.button("Clear lock-out", key="unlock"):
            auth.clear_lockout(con, locked_name, user.username)
            ui.rerun_after_write(f"Cleared the lock-out of {locked_name}.")
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        a, b, c = st.columns(3)
        name = a.text_input("User name", key="new_user")
        role = b.selectbox("Role", auth.ROLES, key="new_role")
        password = c.text_input(
            f"Initial password (≥ {auth.MIN_PASSWORD} characters)", type="password", key="new_password"
        )
        if st.form_submit_button("Add user"):
            try:
                auth.add_user(con, name.strip().lower(), password, role, by=user.username)
            except ValueError as exc:
                st.error(f"Not added: {exc}.")
            else:
                ui.rerun_after_write(f"Added {name.strip().lower()} as {role}.")
    with st.form("change_user"):
        st.markdown("**Change a user**")
        names = list(auth.users()["username"])
        a, b, c = st.columns(3)
        target = a.selectbox("User", names, key="edit_user")
        new_role = b.selectbox("Role", ["(unchanged)", *auth.ROLES], key="edit_role")
        state = c.selectbox("Account", ["(unchanged)", "active", "disabled"], key="edit_active")
        new_password = st.text_input("New password (blank: unchanged)", type="password", key="edit_password")
        if st.form_submit_button("Save changes"):
            if target == user.username and (state == "disabled" or new_role not in ("(unchanged)", "admin")):
                st.error("You cannot disable your own account or remove your own admin role.")
            else:
                try:
                    auth.update_user(
                        con,
                        target,
                        user.username,
                        role=None if new_role == "(unchanged)" else new_role,
                        active=None if state == "(unchanged)" else state == "active",
                        password=new_password or None,
                    )
                except ValueError as exc:
                    st.error(f"Not saved: {exc}.")
                else:
                    ui.rerun_after_write(f"Saved {target}.")

with tab_audit:
    a, b, c = st.columns(3)
    who = a.text_input("User", key="audit_user")
    action = b.text_input("Action starts with", key="audit_action", placeholder="e.g. sign_in, import")
    limit = c.number_input("Entries", 10, 100_000, 500, key="audit_limit")
    log = audit.entries(con, int(limit), who.strip() or None, action.strip() or None)
    st.dataframe(log, hide_index=True, key="audit_table")
    if st.download_button(
        "Export as CSV", safe_csv.to_csv_bytes(log), "crimeviz-audit.csv", "text/csv", key="audit_export"
    ):
        audit.record(con, user.username, "audit.export", "audit_log", None, {"entries": len(log)})
