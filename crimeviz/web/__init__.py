"""The app shell: Streamlit glue shared by the pages (``ui``: connection, sign-in, caches keyed
on the store's data version, filter widgets), the role-based menu (``navigation``), the
Map's overlays of CCTV reports and street-view scores (``overlays``), server start-up for
tests and benchmarks (``serve``) and the app's CSS (``app.css``)."""
