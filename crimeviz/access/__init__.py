"""Who may do what: accounts in ``.streamlit/secrets.toml`` (``accounts``), sign-in, roles and
permissions (``auth``) and the retention of uploaded files (``retention``). Every write and
export is recorded through :mod:`crimeviz.store.audit`."""
