"""Street-level imagery: DevianceNet deviance scores (Park et al., AAAI 2022) for CrimeViz.

- :mod:`~crimeviz.streetview.sequences`: the official dataset layout, frames and clips;
- :mod:`~crimeviz.streetview.uploads`: uploaded images, zips (checked) and videos;
- :mod:`~crimeviz.streetview.labels`: SEA classes derived from our own incidents;
- :mod:`~crimeviz.streetview.checkpoints`: installed weights, loading, saving, scoring;
- :mod:`~crimeviz.streetview.training`: the CPU model trained on labelled sequences;
- :mod:`~crimeviz.streetview.store`: the ``deviance_scores`` table;
- CLI: :mod:`crimeviz.cli.streetview` (``python -m crimeviz streetview …``).

No weights ship with CrimeViz: scores come only from a checkpoint the user installs
(the official SEA/DIA ``.pth`` or one trained with ``streetview train``).
"""
