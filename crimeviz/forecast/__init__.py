"""Next-day hotspot forecasting on the H3 grid (issue 3).

- ``frames``: cells ⇄ frame pixels (:class:`frames.GridMapping`), daily count cubes.
- ``calendar``: weekday, month, Ontario holidays and trend covariates.
- ``baselines``: persistence, moving counts, kernel hotspot, ProMap, grid SEPP.
- ``blend``: the self-exciting hotspot and the ensemble of CDNA with the baselines (chosen on validation).
- ``metrics``: hit rate, PAI, PEI at area coverages; Poisson fit.
- ``inputs`` / ``train`` / ``checkpoint``: CDNA (``models/cdna.py``) windows, training, checkpoints.
- ``predict``: :func:`predict.forecast_for_date` for any method; ``evaluate``: backtests;
  CLI in :mod:`crimeviz.cli.forecast`, benchmark in :mod:`crimeviz.bench.forecast`.
"""
