"""The NSynth on-disk format: ``<split>/examples.json`` plus ``<split>/audio/<note_str>.wav``, where
``<split>`` is ``train``/``valid``/``test`` or the official archives' ``nsynth-train`` etc.

One place for the format's facts (field names, quality order, note naming) so the loader and the
SoundFont renderer cannot drift apart. Metadata records are validated here, once, at dataset
construction, so a bad JSON entry fails with its file and note name instead of deep in a worker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError

SAMPLE_RATE = 16000
NUM_SAMPLES = 64000  # 4 s
NOTE_OFF_SECONDS = 3.0
EXAMPLES_FILE = "examples.json"
AUDIO_DIR = "audio"

#: NSynth's 10 note qualities, in the order of the ``qualities`` bit vector.
QUALITIES: tuple[str, ...] = (
    "bright", "dark", "distortion", "fast_decay", "long_release",
    "multiphonic", "nonlinear_env", "percussive", "reverb", "tempo-synced",
)
#: Fields every record must carry (the ``*_str`` twins are optional but checked when present).
REQUIRED_FIELDS = ("pitch", "velocity", "instrument", "instrument_family", "instrument_source")

_NOTE_STR = re.compile(r"^(?P<instrument>[a-z_]+_\d{3})-(?P<pitch>\d{3})-(?P<velocity>\d{3})$")


def note_name(instrument_str: str, pitch: int, velocity: int) -> str:
    """``guitar_acoustic_003`` + 60 + 100 → ``guitar_acoustic_003-060-100``."""
    return f"{instrument_str}-{pitch:03d}-{velocity:03d}"


def parse_note_name(note_str: str) -> tuple[str, int, int]:
    """Inverse of `note_name`: (instrument_str, pitch, velocity)."""
    match = _NOTE_STR.match(note_str)
    if match is None:
        raise DataError(f"'{note_str}' is not an NSynth note name like guitar_acoustic_003-060-100")
    return match["instrument"], int(match["pitch"]), int(match["velocity"])


@dataclass(frozen=True)
class NoteRecord:
    """One validated metadata entry (the fields the toolkit uses)."""

    note_str: str
    pitch: int
    velocity: int
    instrument: int
    instrument_str: str
    family: int
    source: int
    qualities: tuple[int, ...]


def _int_field(record: dict[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DataError(f"{where}: field '{key}' must be an integer in {lo}..{hi}, got {value!r}")
    return value


def validate_record(note_str: str, record: Any, where: str) -> NoteRecord:
    """Check one ``examples.json`` entry; ``where`` names the file for the error message."""
    where = f"{where}: note '{note_str}'"
    if not isinstance(record, dict):
        raise DataError(f"{where}: entry must be a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_FIELDS if key not in record]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
    if "note_str" in record and record["note_str"] != note_str:
        raise DataError(f"{where}: note_str '{record['note_str']}' differs from its key")
    pitch = _int_field(record, "pitch", 0, 127, where)
    velocity = _int_field(record, "velocity", 0, 127, where)
    instrument = _int_field(record, "instrument", 0, 2**31 - 1, where)
    family = _int_field(record, "instrument_family", 0, len(NSYNTH_FAMILIES) - 1, where)
    source = _int_field(record, "instrument_source", 0, len(NSYNTH_SOURCES) - 1, where)
    for key, names, index in (
        ("instrument_family_str", NSYNTH_FAMILIES, family),
        ("instrument_source_str", NSYNTH_SOURCES, source),
    ):
        if key in record and record[key] != names[index]:
            raise DataError(f"{where}: {key} '{record[key]}' disagrees with index {index} ({names[index]})")
    qualities = record.get("qualities", [0] * len(QUALITIES))
    if (
        not isinstance(qualities, list)
        or len(qualities) != len(QUALITIES)
        or any(q not in (0, 1) or isinstance(q, bool) for q in qualities)
    ):
        raise DataError(f"{where}: 'qualities' must be a list of {len(QUALITIES)} zeros/ones")
    instrument_str = record.get("instrument_str")
    if not isinstance(instrument_str, str):
        instrument_str = note_str.rsplit("-", 2)[0]
    return NoteRecord(note_str, pitch, velocity, instrument, instrument_str, family, source, tuple(qualities))


def make_record(
    *, note: int, instrument: int, instrument_str: str, pitch: int, velocity: int,
    family: int, source: int, qualities: list[int],
) -> dict[str, Any]:
    """A complete NSynth metadata entry (every field of the official JSON)."""
    return {
        "note": note,
        "note_str": note_name(instrument_str, pitch, velocity),
        "instrument": instrument,
        "instrument_str": instrument_str,
        "pitch": pitch,
        "velocity": velocity,
        "sample_rate": SAMPLE_RATE,
        "qualities": list(qualities),
        "qualities_str": [name for name, bit in zip(QUALITIES, qualities, strict=True) if bit],
        "instrument_family": family,
        "instrument_family_str": NSYNTH_FAMILIES[family],
        "instrument_source": source,
        "instrument_source_str": NSYNTH_SOURCES[source],
    }


def read_examples(split_dir: Path) -> dict[str, Any]:
    """Raw ``examples.json`` of one split directory (note_str → entry), with clear errors."""
    path = Path(split_dir) / EXAMPLES_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing (an NSynth split directory holds examples.json and audio/)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot parse JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: must be a JSON object mapping note names to metadata")
    return data


#: The official archives unpack to ``nsynth-train/``, ``nsynth-valid/``, ``nsynth-test/``.
OFFICIAL_DIR_PREFIX = "nsynth-"


def split_directories(root: Path) -> dict[str, Path]:
    """Split name → directory for every directory under an NSynth root holding an examples.json.
    ``nsynth-train/`` (the official archives' name) is split ``train``, like ``train/``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: NSynth root directory does not exist")
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if not (path / EXAMPLES_FILE).is_file():
            continue
        name = path.name.removeprefix(OFFICIAL_DIR_PREFIX) or path.name
        if name in found:
            raise DataError(f"{root}: split '{name}' is in both {found[name].name}/ and {path.name}/; keep one")
        found[name] = path
    return dict(sorted(found.items()))


