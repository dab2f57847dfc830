"""Exploring incidents: pydeck map layers and class breaks (``maps``), plotly charts (``charts``),
the offline Leaflet export (``leaflet``) and hotspot statistics, Gi* and kernel density
(``hotspots``). Functions take DataFrames and return figures, layers or tables; no Streamlit."""
