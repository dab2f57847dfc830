"""The Ray backend: a shared scorer actor batching snippets of several cameras; one cluster per session."""

import threading

import numpy as np
import pytest

from crimeviz.cctv.live.backend import ContextScorer, PendingRequests
from tests.test_cctv_pipeline import random_weights, scorer  # noqa: F401 (fixtures)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local one-node Ray cluster for the whole test session (2 CPUs), shut down at its end."""
    from crimeviz.cctv.live import ray_backend

    ray_backend.init(num_cpus=2)
    yield ray
    ray.shutdown()


def test_pending_requests_take_one_snippet_per_camera_oldest_first():
    pending = PendingRequests()
    for camera, ticket in (("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)):
        pending.add(camera, np.zeros(2), ticket)
    assert [t for _, _, t in pending.take(2)] == [1, 2]
    assert [t for _, _, t in pending.take(10)] == [3, 4, 5]
    assert len(pending) == 0


def test_ray_scorer_batches_cameras_and_matches_in_process_scores(ray_cluster, random_weights, scorer):  # noqa: F811
    from crimeviz.cctv.live.ray_backend import RayBackend

    backend = RayBackend(random_weights, num_cpus=0.5, max_wait_s=0.05, context=4)
    rng = np.random.default_rng(1)
    features = {c: rng.normal(size=(5, scorer.model.feature_dim)).astype(np.float32) for c in ("gate", "yard")}
    expected = {c: [] for c in features}
    local = ContextScorer(scorer, context=4)
    for i in range(5):
        for camera, score in zip(features, local.score_batch([(c, f[i]) for c, f in features.items()])):
            expected[camera].append(score)
    got = {c: [] for c in features}
    barrier = threading.Barrier(2)

    def camera_thread(camera):
        for i in range(5):
            barrier.wait()
            got[camera].append(backend.score(camera, features[camera][i]))

    threads = [threading.Thread(target=camera_thread, args=(c,)) for c in features]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        stats = backend.stats()
        frames = rng.integers(0, 255, (2, 160, 224, 3), dtype=np.uint8)
        embedded = backend.embed("gate", frames)
    finally:
        backend.close()
    for camera in features:
        assert got[camera] == pytest.approx(expected[camera], abs=1e-5)
    assert stats["scored"] == 10 and stats["batches"] < 10  # snippets of both cameras shared forward passes
    assert embedded == pytest.approx(scorer.embed(frames), abs=1e-4)  # the feature actor's backbone is the product's
