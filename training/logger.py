"""Metrics to a JSONL file (one record per line, always) and to TensorBoard when it is installed
(``pip install 'specinpaint[tensorboard]'``): every numeric value of a record as the scalar
``<split>/<name>``, and the WAVs and PNGs of periodic samples as audio and images."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_write_text

log = logging.getLogger(__name__)


class MetricsLogger:
    """Appends ``{"step": …, "split": …, name: value}`` records to ``path``. Only the main rank
    writes; other ranks get a disabled logger."""

    def __init__(self, path: str | Path, *, enabled: bool = True, tensorboard_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self._tb = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if tensorboard_dir is not None:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:  # tensorboard is optional
                    log.debug("tensorboard not installed: metrics go to %s only", self.path)
                else:
                    self._tb = SummaryWriter(str(tensorboard_dir))

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (an interrupted run logged them; the resumed run redoes them)."""
        if not self.enabled or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except ValueError:
                continue  # a half-written last line of a killed run
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def log(self, step: int, split: str, values: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        record: dict[str, Any] = {"step": step, "split": split}
        for key, value in values.items():
            value = float(value) if not isinstance(value, (str, bool)) else value
            record[key] = value if not isinstance(value, float) or math.isfinite(value) else str(value)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in record.items():
                if key not in ("step", "split") and isinstance(value, float):
                    self._tb.add_scalar(f"{split}/{key}", value, step)

    def log_samples(self, step: int, directory: str | Path) -> int:
        """Add the samples a task wrote to ``directory`` to TensorBoard: each ``NAME.wav`` as audio
        and each ``NAME.png`` as an image, tagged ``samples/NAME``. Returns how many were added
        (0 without TensorBoard: the files on disk are the samples then)."""
        directory = Path(directory)
        if self._tb is None or not directory.is_dir():
            return 0
        import soundfile
        from matplotlib.image import imread

        added = 0
        for path in sorted(directory.iterdir()):
            if path.suffix == ".wav":
                audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
                self._tb.add_audio(f"samples/{path.stem}", audio.mean(axis=1), step, sample_rate=rate)
            elif path.suffix == ".png":
                image = imread(path)  # [H, W, 3 or 4] floats in [0, 1]
                self._tb.add_image(f"samples/{path.stem}", image[..., :3], step, dataformats="HWC")
            else:
                continue
            added += 1
        self._tb.flush()
        return added

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Records of a metrics.jsonl file (optionally of one split)."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if split is None or record.get("split") == split:
            records.append(record)
    return records
