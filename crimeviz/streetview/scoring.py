"""Scoring sequences end to end: read, check, run the model, store; nothing is stored on error."""

from __future__ import annotations

from dataclasses import dataclass

from crimeviz.streetview import store
from crimeviz.streetview.checkpoints import Score, ScoringModel
from crimeviz.streetview.sequences import Frames, Sequence, SequenceError, frames_gps, load_frames, locate_all, to_clip
from crimeviz.streetview.uploads import upload_items


@dataclass(frozen=True)
class ScoredUpload:
    """An uploaded sequence after scoring: its name, frames, place and score."""

    name: str
    frames: Frames
    lat: float
    lon: float
    score: Score


def _upload_name(files: list[tuple[str, bytes]]) -> str:
    return files[0][0] if len(files) == 1 else f"{files[0][0]} + {len(files) - 1} more"


def score_upload(
    con,
    model: ScoringModel,
    files: list[tuple[str, bytes]],
    by: str,
    lat: float | None = None,
    lon: float | None = None,
    use_exif: bool = False,
) -> ScoredUpload:
    """Scores one uploaded sequence (``(name, bytes)`` files) at ``lat, lon`` or its EXIF GPS position,
    and stores the score as done ``by`` a user.

    Raises ValueError in words for bad input (:class:`SequenceError` included) before
    anything is stored.
    """
    items = upload_items(files)
    frames = load_frames(items)
    if use_exif:
        position = frames_gps(items)
        if position is None:
            raise SequenceError("the frames carry no EXIF GPS position: type the location or click it on the map")
        lat, lon = position
    lat, lon = store.check_location(lat, lon)
    score = model.score(to_clip(frames))
    name = _upload_name(files)
    store.save_scores(con, [(name, lat, lon, score)], model, by)
    return ScoredUpload(name, frames, lat, lon, score)


def score_sequences(
    con, model: ScoringModel, sequences: list[Sequence], by: str
) -> list[tuple[str, float, float, Score]]:
    """Scores every sequence (located by folder name or EXIF GPS), then stores all in one transaction."""
    places = locate_all(sequences)
    scored = [(s.name, *places[s.name], model.score(to_clip(s.load()))) for s in sequences]
    store.save_scores(con, scored, model, by)
    return scored
