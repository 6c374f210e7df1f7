"""`DecoderLabels`: pitch and family maps handed to the quantizer's decoder beside the codes.

Why: a bottom code spans many mel bins (16 at the CPU sizes), so the codes alone cannot say
exactly where a note's harmonics lie; a low note's fundamental and its neighbour a semitone away
fall inside the same code. The note's labels can. Two ways to give the pitch:

* ``table``: a learned map over frequency per pitch (the same pitch means different things on
  different rows), resized to the decoder's rows;
* ``comb``: the rows where the pitch's harmonics fall (`harmonic_comb`, from the representation's
  row frequencies), folded from full resolution into channels at the decoder's rows (each code row's
  fine rows become channels), plus one channel saying whether a pitch is given.

The family is a learned vector (``vector``, the same on every row), or a learned map over frequency
per family (``table``, like the pitch table): a family's spectral envelope and the level of its
quiet bins differ by row, and a convolutional decoder fed one vector on every row knows a row's
place only through the codes and the comb. Labels are dropped to the null class during training
with some probability, so audio without labels still decodes.

The comb's harmonics are `COMB_WIDTH_BINS` analysis bins wide: a steady tone's peak in the level
channel of the Mel-IF representations spans about that (measured on synthetic harmonic tones at
MIDI 24-84, where it matched their level ripple best), so the comb has the shape the decoder must
draw. The same comb can also be drawn straight onto the output at full resolution
(``decoder_harmonic_gain``, see `specinpaint.quantizers.hierarchy`).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from specinpaint.core.conditioning import MIDI_MAX, NULL_LABEL, Conditioning
from specinpaint.core.errors import ConfigError
from specinpaint.core.harmonic_comb import comb_widths_hz, harmonic_comb

PitchMaps = Literal["table", "comb"]
FamilyMaps = Literal["vector", "table"]
#: Gaussian width of each harmonic, in units of the representation's frequency resolution.
COMB_WIDTH_BINS = 1.5


class DecoderLabels(nn.Module):
    """``Conditioning`` (or None: every label null) → label maps ``[B, out_channels, freq, time]``
    at the decoder's input rows ``freq`` (= the spectrogram's rows / ``fold``)."""

    def __init__(self, pitch_maps: PitchMaps, channels: int, rows: int, fold: int, num_families: int,
                 drop_prob: float, family_maps: FamilyMaps = "vector") -> None:
        super().__init__()
        self.pitch_maps, self.channels, self.rows, self.fold = pitch_maps, channels, rows, fold
        self.family_maps = family_maps
        self.num_families, self.num_pitches, self.drop_prob = num_families, MIDI_MAX + 1, drop_prob
        self.pitch = nn.Embedding(self.num_pitches + 1, channels * rows) if pitch_maps == "table" else None
        self.family = nn.Embedding(num_families + 1, channels * (rows if family_maps == "table" else 1))
        for table in (self.pitch, self.family):
            if table is not None:
                nn.init.normal_(table.weight, std=0.1)
        self.register_buffer("bin_hz", torch.empty(0), persistent=False)
        self.register_buffer("comb_widths", torch.empty(0), persistent=False)  # per row, Hz
        self.resolution_hz = 0.0

    @property
    def out_channels(self) -> int:
        return self.channels + (self.fold + 1 if self.pitch_maps == "comb" else 0)

    def set_bin_frequencies(self, bin_hz: torch.Tensor, resolution_hz: float = 0.0) -> None:
        """The spectrogram rows' centre frequencies (Hz), which the comb is laid on, and the
        analysis resolution (Hz) that sets the width of its harmonics."""
        self.bin_hz = bin_hz.detach().float().to(self.family.weight.device)
        self.resolution_hz = float(resolution_hz)
        self.comb_widths = comb_widths_hz(self.bin_hz, width_hz=COMB_WIDTH_BINS * self.resolution_hz)

    def indices(self, conditioning: Conditioning | None, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(pitch, family) label indices [B]; NULL_LABEL where a label is absent or dropped."""
        device = self.family.weight.device
        if conditioning is None:
            null = torch.full((batch,), NULL_LABEL, dtype=torch.long, device=device)
            return null, null.clone()
        pitch, family = conditioning.pitch.to(device).long(), conditioning.family.to(device).long()
        if pitch.shape[0] != batch:
            raise ValueError(f"{pitch.shape[0]} labels for a batch of {batch} codemaps")
        if self.training and self.drop_prob > 0:
            dropped = torch.rand(pitch.shape, device=device) < self.drop_prob
            pitch = torch.where(dropped, torch.full_like(pitch, NULL_LABEL), pitch)
            family = torch.where(dropped, torch.full_like(family, NULL_LABEL), family)
        if family.numel() and int(family.max()) >= self.num_families:
            raise ConfigError(f"family index {int(family.max())} is beyond the decoder's {self.num_families} families "
                              "(raise quantizer.params.decoder_label_families)")
        return pitch, family

    def comb(self, pitch: torch.Tensor) -> torch.Tensor:
        """[B] pitch indices → [B, F] harmonic comb on the spectrogram's rows."""
        if self.bin_hz.numel() == 0:
            raise ConfigError("decoder_label_pitch_maps 'comb' needs the representation's row frequencies "
                              "(build the quantizer through a Pipeline)")
        return harmonic_comb(pitch, self.bin_hz, widths=self.comb_widths)

    def _at_rows(self, table: torch.Tensor, freq: int) -> torch.Tensor:
        """A learned ``[B, channels, rows]`` map resized to the decoder's ``freq`` rows."""
        return F.interpolate(table, size=freq, mode="linear", align_corners=False) if freq != self.rows else table

    def forward(self, pitch: torch.Tensor, family: torch.Tensor, freq: int, time: int,
                comb: torch.Tensor | None = None) -> torch.Tensor:
        """Label maps; ``comb`` = ``self.comb(pitch)`` when the caller has it already."""
        batch = pitch.shape[0]
        null_family = torch.full_like(family, self.num_families)
        family_rows = self.family(torch.where(family == NULL_LABEL, null_family, family))
        if self.family_maps == "table":
            parts = [self._at_rows(family_rows.view(batch, self.channels, self.rows), freq)]
        else:
            parts = [family_rows[:, :, None].expand(-1, -1, freq)]
        if self.pitch is not None:
            index = torch.where(pitch == NULL_LABEL, torch.full_like(pitch, self.num_pitches), pitch)
            parts[0] = parts[0] + self._at_rows(self.pitch(index).view(batch, self.channels, self.rows), freq)
        else:
            comb = self.comb(pitch) if comb is None else comb
            if comb.shape[1] != freq * self.fold:
                raise ValueError(f"comb of {comb.shape[1]} rows does not fold into {freq} rows of {self.fold}")
            parts.append(comb.view(batch, freq, self.fold).transpose(1, 2))
            parts.append((pitch != NULL_LABEL).float()[:, None, None].expand(-1, 1, freq))
        maps = torch.cat(parts, 1)
        return maps[:, :, :, None].expand(-1, -1, -1, time).contiguous()
