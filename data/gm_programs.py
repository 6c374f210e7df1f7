"""General MIDI program → NSynth family/source table used by the SoundFont renderer.

GM programs are 0-based (``0`` = Acoustic Grand Piano). Drums (channel 10 / bank 128) are never
used. Programs with no NSynth counterpart are left out: timpani, orchestra hit, the evolving synth
pads (88, 91–95), synth effects (96–103), unpitched percussion (113, 115–119) and sound effects
(120–127); so are programs that do not sound at the key played (31 guitar harmonics: +2 octaves,
86 lead in fifths, 112 tinkle bell: inharmonic, 78 whistle: 9 semitones flat in TimGM6mb), found
by pYIN on TimGM6mb and FluidR3. Source follows NSynth's definitions: *acoustic* = recorded
acoustic instrument, *electronic* = electric/electronic instrument (e-piano, electric guitar and
bass, drawbar organ), *synthetic* = synthesizer patches. ``natural range`` keeps each family near the register real
instruments of that family play (NSynth itself only has playable notes), refined per program for
instruments with a narrow register (`PROGRAM_RANGES`, e.g. glockenspiel, baritone sax: SoundFonts
often have no sample far outside it, giving silence or wrong pitch); `RenderSpec` can turn it off.

| family     | GM programs (source: a=acoustic, e=electronic, s=synthetic)                            |
|------------|-----------------------------------------------------------------------------------------|
| bass       | 32a 33e 34e 35e 36e 37e 38s 39s                                                          |
| brass      | 56a 57a 58a 59a 60a 61a 62s 63s                                                          |
| flute      | 72a 73a 74a 75a 76a 77a 79a                                                              |
| guitar     | 24a 25a 26e 27e 28e 29e 30e 104a 105a 106a 107a                                          |
| keyboard   | 0a 1a 2e 3a 4e 5e 6a 7e                                                                  |
| mallet     | 8a 9a 10a 11a 12a 13a 14a 15a 108a 114a                                                  |
| organ      | 16e 17e 18e 19a 20a                                                                      |
| reed       | 21a 22a 23a 64a 65a 66a 67a 68a 69a 70a 71a 109a 111a                                    |
| string     | 40a 41a 42a 43a 44a 45a 46a 48a 49a 50s 51s 110a                                        |
| synth_lead | 80s 81s 82s 83s 84s 85s 87s 89s 90s                                                      |
| vocal      | 52a 53a 54s                                                                              |
"""

from __future__ import annotations

from dataclasses import dataclass

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError

#: GM level-1 program names (0-based), for reports and `specinpaint data programs`.
GM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel",
    "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ",
    "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar",
    "Guitar Harmonics", "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1",
    "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice",
    "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section",
    "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe",
    "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle",
    "Shakuhachi", "Whistle", "Ocarina", "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)",
    "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)",
    "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)",
    "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring",
    "Helicopter", "Applause", "Gunshot",
)

# family → "program+source-letter" list (the table in the module docstring, in code form)
_TABLE: dict[str, str] = {
    "bass": "32a 33e 34e 35e 36e 37e 38s 39s",
    "brass": "56a 57a 58a 59a 60a 61a 62s 63s",
    "flute": "72a 73a 74a 75a 76a 77a 79a",
    "guitar": "24a 25a 26e 27e 28e 29e 30e 104a 105a 106a 107a",
    "keyboard": "0a 1a 2e 3a 4e 5e 6a 7e",
    "mallet": "8a 9a 10a 11a 12a 13a 14a 15a 108a 114a",
    "organ": "16e 17e 18e 19a 20a",
    "reed": "21a 22a 23a 64a 65a 66a 67a 68a 69a 70a 71a 109a 111a",
    "string": "40a 41a 42a 43a 44a 45a 46a 48a 49a 50s 51s 110a",
    "synth_lead": "80s 81s 82s 83s 84s 85s 87s 89s 90s",
    "vocal": "52a 53a 54s",
}
_SOURCE_LETTER = {"a": "acoustic", "e": "electronic", "s": "synthetic"}

#: MIDI range (inclusive) each family plays by default (intersected with the requested range).
NATURAL_RANGES: dict[str, tuple[int, int]] = {
    "bass": (24, 67), "brass": (36, 84), "flute": (48, 96), "guitar": (40, 88), "keyboard": (21, 108),
    "mallet": (36, 96), "organ": (24, 96), "reed": (34, 88), "string": (28, 96), "synth_lead": (24, 96),
    "vocal": (40, 79),
}
#: Per-program MIDI ranges (sounding register of the real instrument) overriding the family's.
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    8: (60, 108), 9: (72, 108), 10: (60, 96), 11: (53, 89), 12: (45, 96), 13: (65, 108), 14: (60, 77),
    32: (28, 67), 33: (28, 67), 34: (28, 67), 35: (28, 67), 40: (55, 100), 41: (48, 88), 42: (36, 76),
    43: (28, 55), 45: (28, 96), 46: (24, 103), 56: (54, 86), 57: (40, 72), 58: (28, 65), 59: (54, 84),
    60: (41, 77), 64: (56, 88), 65: (49, 81), 66: (44, 76), 67: (36, 69), 68: (58, 91), 69: (52, 81),
    70: (34, 75), 71: (50, 91), 72: (74, 108), 73: (60, 96), 74: (60, 96), 75: (60, 96), 77: (55, 88),
    79: (60, 96), 52: (43, 79), 53: (43, 79), 104: (48, 84), 105: (48, 84), 106: (48, 84),
    107: (48, 96), 108: (60, 88), 109: (58, 79), 110: (55, 100), 111: (60, 91),
}
#: Programs whose patches are distorted (NSynth quality "distortion").
DISTORTED_PROGRAMS = frozenset({29, 30, 84})


@dataclass(frozen=True)
class GMProgram:
    program: int
    family: int  # index into NSYNTH_FAMILIES
    source: int  # index into NSYNTH_SOURCES

    @property
    def name(self) -> str:
        return GM_NAMES[self.program]

    @property
    def natural_range(self) -> tuple[int, int]:
        return PROGRAM_RANGES.get(self.program, NATURAL_RANGES[self.family_str])

    @property
    def family_str(self) -> str:
        return NSYNTH_FAMILIES[self.family]

    @property
    def source_str(self) -> str:
        return NSYNTH_SOURCES[self.source]


def _build() -> dict[int, GMProgram]:
    table: dict[int, GMProgram] = {}
    for family, entries in _TABLE.items():
        for entry in entries.split():
            program, source = int(entry[:-1]), _SOURCE_LETTER[entry[-1]]
            assert program not in table, program
            table[program] = GMProgram(program, NSYNTH_FAMILIES.index(family), NSYNTH_SOURCES.index(source))
    return table


#: program → GMProgram for every program mapped to an NSynth family.
GM_TO_NSYNTH: dict[int, GMProgram] = _build()


def programs_for(family: str) -> list[GMProgram]:
    if family not in NSYNTH_FAMILIES:
        raise DataError(f"unknown instrument family '{family}' (known: {', '.join(NSYNTH_FAMILIES)})")
    index = NSYNTH_FAMILIES.index(family)
    return [p for p in GM_TO_NSYNTH.values() if p.family == index]


def lookup(program: int) -> GMProgram:
    if program not in GM_TO_NSYNTH:
        name = GM_NAMES[program] if 0 <= program < 128 else "not a GM program"
        raise DataError(f"GM program {program} ({name}) has no NSynth family in the renderer's table")
    return GM_TO_NSYNTH[program]


def table_rows() -> list[tuple[int, str, str, str]]:
    """(program, GM name, family, source) sorted by program, for display."""
    return [(p.program, p.name, p.family_str, p.source_str) for p in sorted(GM_TO_NSYNTH.values(),
                                                                            key=lambda p: p.program)]
