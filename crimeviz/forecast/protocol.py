"""The evaluation protocol of issue 3: train before 2020, validate on 2020, test on 2021."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Protocol:
    """Dates of the three periods; each forecast uses only incidents strictly before its day.

    The valid area is every cell with ≥ 1 incident up to ``train_end``.
    """

    train_end: date = date(2019, 12, 31)
    val_start: date = date(2020, 1, 1)
    val_end: date = date(2020, 12, 31)
    test_start: date = date(2021, 1, 1)
    test_end: date = date(2021, 12, 31)

    def describe(self) -> dict:
        return {
            "train": f"first stored day .. {self.train_end}",
            "validation": f"{self.val_start} .. {self.val_end} (model selection, baseline tuning)",
            "test": f"{self.test_start} .. {self.test_end} (never used for any choice)",
            "causal": "each day's forecast uses only incidents strictly before that day",
            "valid_area": f"cells with >= 1 incident up to {self.train_end}",
        }


PROTOCOL = Protocol()
