"""CrimeViz: crime analytics on the H3 grid (library used by the Streamlit app and the CLI)."""

__version__ = "0.1.0"
