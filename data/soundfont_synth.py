"""One General MIDI SoundFont played note by note with `tinysoundfont` (TinySoundFont bindings).

Why tinysoundfont: a small compiled wheel, no system library (FluidSynth would need libfluidsynth),
renders offline into a float buffer at any sample rate. Its ``pyaudio`` dependency is only imported
for live playback, which we never use (``pip install --no-deps tinysoundfont`` is enough).

Determinism: ``SoundFont.reset()`` does not clear all voice state (two renders of one note after a
reset differ by ~1e-4), so every note is rendered on a fresh *clone* of the loaded SoundFont
(cloning shares the sample data and costs microseconds); renders are then bit-identical whatever
the order or the worker that plays them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from specinpaint.core.errors import DataError

DEBIAN_FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SYSTEM_SOUNDFONTS: tuple[Path, ...] = (DEBIAN_FLUIDR3,)
INSTALLED = "installed"  # soundfont value: the built-in one plus every system SoundFont found
MAX_VOICES = 64


def default_soundfont() -> Path:
    """The small GM SoundFont shipped inside the ``pretty_midi`` wheel (TimGM6mb.sf2, 6 MB)."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "TimGM6mb.sf2"
            if candidate.is_file():
                return candidate
    hint = f" or pass --soundfont {DEBIAN_FLUIDR3}" if DEBIAN_FLUIDR3.is_file() else " or pass --soundfont FILE.sf2"
    raise DataError(
        "no default SoundFont: install the 'render' extra (pip install 'specinpaint[render]', "
        f"which brings pretty_midi's TimGM6mb.sf2){hint}"
    )


def installed_soundfonts() -> list[Path]:
    """The built-in TimGM6mb plus every system General MIDI SoundFont present on this machine
    (FluidR3_GM from Debian's fluid-soundfont-gm, which scripts/setup.sh installs): more
    instruments from the same programs. What ``soundfont: installed`` renders from."""
    return [default_soundfont(), *(p for p in SYSTEM_SOUNDFONTS if p.is_file())]


def _backend():
    try:
        from tinysoundfont import _tinysoundfont
    except ImportError as exc:
        raise DataError(
            "SoundFont rendering needs tinysoundfont: pip install 'specinpaint[render]' "
            "(or pip install --no-deps tinysoundfont, which skips the unused pyaudio)"
        ) from exc
    return _tinysoundfont


class SoundFontSynth:
    """Renders isolated notes: note-on at t=0, note-off at ``note_off`` samples, mono float32."""

    def __init__(self, path: str | Path, sample_rate: int = 16000) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise DataError(f"{self.path}: SoundFont file does not exist")
        self._tsf = _backend()
        try:
            self._base = self._tsf.SoundFont(str(self.path))
        except RuntimeError as exc:
            raise DataError(f"{self.path}: not a readable SoundFont (.sf2) file ({exc})") from exc
        self.sample_rate = sample_rate

    def has_program(self, program: int) -> bool:
        """Whether the melodic bank 0 holds this GM program (drum kits are never used)."""
        return self._base.get_preset_index(0, program) >= 0

    def preset_name(self, program: int) -> str:
        return self._base.get_preset_name(0, program) if self.has_program(program) else "<missing>"

    def render(self, program: int, pitch: int, velocity: int, num_samples: int, note_off: int) -> np.ndarray:
        """One note as float32 [num_samples] (not clipped, not normalised)."""
        sf = self._tsf.SoundFont(self._base)  # fresh clone: bit-exact, order-independent renders
        sf.set_output(self._tsf.OutputMode.Mono, self.sample_rate, 0.0)
        sf.set_max_voices(MAX_VOICES)
        sf.channel_set_bank(0, 0)
        sf.channel_set_preset_number(0, program, False)
        sf.channel_note_on(0, pitch, velocity / 127.0)
        out = np.zeros(num_samples, dtype=np.float32)
        split = min(note_off, num_samples)
        if split:
            sf.render(memoryview(out[:split]).cast("B"))
        sf.channel_note_off(0, pitch)
        if split < num_samples:
            sf.render(memoryview(out[split:]).cast("B"))
        return out
