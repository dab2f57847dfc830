"""CCTV review: anomaly scores for video clips with MGFN, alert segments, reports.

Pipeline (``scoring``): decode with OpenCV (``video``) -> 16-frame snippets ->
pooled EfficientNet-Lite0 features + motion statistics (``features``) -> MGFN
snippet scores (``model``, ``models.mgfn``) -> smoothed per-frame scores -> alert
segments. ``train`` and ``synthetic`` make the demo weights; ``evaluation`` has
the frame-level ROC-AUC and the official protocol on precomputed I3D features;
``store`` keeps cameras and review reports in DuckDB; ``report`` exports them.
"""

import os
from pathlib import Path

from crimeviz import config

DATA_DIR = config.DATA_DIR / "cctv"
DEMO_WEIGHTS = DATA_DIR / "mgfn_demo.pt"
DEMO_CLIP = DATA_DIR / "demo_clip.webm"


def app_weights() -> Path:
    """The MGFN weights the CCTV page scores with: ``$CRIMEVIZ_CCTV_WEIGHTS``, else the registry's
    promoted version (:mod:`crimeviz.cctv.registry`, read on every call), else the demo model."""
    if os.environ.get("CRIMEVIZ_CCTV_WEIGHTS"):
        return Path(os.environ["CRIMEVIZ_CCTV_WEIGHTS"])
    from crimeviz.cctv.registry import promoted_weights

    return promoted_weights() or DEMO_WEIGHTS
