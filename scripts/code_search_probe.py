"""Would a better choice of codes lower the reconstruction's SC? Analysis-by-synthesis encoding
measured on held-out notes.

    python scripts/code_search_probe.py BUNDLE [--notes 24] [--candidates 8] [--sweeps 1]
                                               [--levels bottom] [--objective linear|log] [--split valid]

The encoder picks, per cell, the code nearest to its latent, not the code whose decode is nearest
to the note. After that nearest-code encode, a greedy search visits every cell of the chosen
levels (``--sweeps`` times, coarse levels first as listed) and tries its ``--candidates`` nearest
codes, keeping the one whose decode (with the note's labels) is closest to the input spectrogram:
``linear``, the relative squared error of the mel magnitudes (the loud bins weigh most, as in
spectral convergence), or ``log``, the mean squared error of the log level (every bin alike, as in
the log-spectral distance); both on the level as decoding hears it, after the floor's clamp.
Prints, for the nearest codes and the searched ones, the objective and the decoded audio's
spectral convergence, log-spectral distance and level error, and the seconds the search took.
Why a script: it answers whether the encoder's choice is what limits reconstruction (it costs a
decoder pass per cell and candidate, far too slow for `evaluate`'s defaults).
"""

from __future__ import annotations

import argparse
import time

import torch

from specinpaint.core.bundle import load_bundle
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.pipeline import Pipeline
from specinpaint.core.registry import registry
from specinpaint.quantizers.hierarchy import channels_first
from specinpaint.studies import notes
from specinpaint.studies.reconstruction import level_error_db
from specinpaint.training.data import build_dataset


def heard_level(pipeline: Pipeline, spec: torch.Tensor) -> torch.Tensor:
    """The natural-log level channel as decoding hears it (denormalised, then the representation's
    floor applied: a decoder trained on the cleaned output may put anything under it) ``[B, F, T]``."""
    rep = pipeline.representation
    return rep.clean(pipeline.normalizer.denormalize(spec))[:, rep.level_channel]


def mel_magnitude(pipeline: Pipeline, spec: torch.Tensor) -> torch.Tensor:
    """The heard level as a linear mel magnitude ``[B, F, T]``."""
    level = heard_level(pipeline, spec)
    return torch.exp(0.5 * level) if pipeline.representation.level_is_power else torch.exp(level)


def distance(pipeline: Pipeline, recon: torch.Tensor, target: torch.Tensor, objective: str) -> torch.Tensor:
    """Per example ``[B]``: how far a decoded spectrogram is from the input (lower is better)."""
    if objective == "log":
        return (heard_level(pipeline, recon) - heard_level(pipeline, target)).pow(2).mean((1, 2))
    estimate, reference = mel_magnitude(pipeline, recon), mel_magnitude(pipeline, target)
    return (estimate - reference).pow(2).sum((1, 2)) / reference.pow(2).sum((1, 2)).clamp_min(1e-12)


@torch.no_grad()
def candidate_codes(pipeline: Pipeline, spec: torch.Tensor, codes: Codemaps, count: int) -> dict[str, torch.Tensor]:
    """Per level ``[B, F, T, count]``: the ``count`` codes nearest to each cell's latent (the first
    is the encoder's own choice), each level's latent computed from the coarser levels' chosen codes."""
    quantizer = pipeline.quantizer
    features = quantizer._features(spec)
    out, coarser = {}, None
    for name in quantizer.levels:
        latent = quantizer.level_latent(name, features[name], coarser)
        b, d, f, t = latent.shape
        embed = quantizer._codebook(name).embed
        flat = latent.permute(0, 2, 3, 1).reshape(-1, d).float()
        out[name] = torch.cdist(flat, embed.float()).topk(count, largest=False).indices.view(b, f, t, count)
        coarser = channels_first(quantizer._codebook(name).lookup(codes[name])).to(latent.dtype)
    return out


@torch.no_grad()
def search_codes(pipeline: Pipeline, spec: torch.Tensor, conditioning: Conditioning, *, candidates: int,
                 sweeps: int = 1, levels: tuple[str, ...] = ("bottom",), objective: str = "linear") -> Codemaps:
    """The nearest-code encode of ``spec`` improved cell by cell: each visited cell takes, among its
    ``candidates`` nearest codes, the one whose decode is closest to ``spec`` (never worse than
    the code it had, which is among them)."""
    quantizer = pipeline.quantizer
    nearest = quantizer.encode(spec)
    codes = {name: nearest[name].clone() for name in quantizer.levels}
    if candidates <= 1:
        return Codemaps(codes)
    options = candidate_codes(pipeline, spec, nearest, candidates)
    repeated = Conditioning(conditioning.pitch.repeat_interleave(candidates),
                            conditioning.family.repeat_interleave(candidates))
    targets = spec.repeat_interleave(candidates, 0)
    for _ in range(sweeps):
        for name in levels:
            batch, rows, columns = codes[name].shape
            for row in range(rows):
                for column in range(columns):
                    trial = {level: c.repeat_interleave(candidates, 0) for level, c in codes.items()}
                    trial[name][:, row, column] = options[name][:, row, column].reshape(-1)
                    scores = distance(pipeline, quantizer.decode(Codemaps(trial), repeated), targets, objective)
                    best = scores.view(batch, candidates).argmin(1, keepdim=True)
                    codes[name][:, row, column] = options[name][:, row, column].gather(1, best)[:, 0]
    return Codemaps(codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--notes", type=int, default=24, help="held-out notes, spread over the split")
    parser.add_argument("--candidates", type=int, default=8, help="codes tried per cell (nearest first)")
    parser.add_argument("--sweeps", type=int, default=1)
    parser.add_argument("--levels", default="bottom", help="comma-separated, visited in this order")
    parser.add_argument("--objective", choices=("linear", "log"), default="linear")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    torch.manual_seed(0)
    pipeline = load_bundle(args.bundle, "cpu").eval()
    dataset = build_dataset(pipeline.config, args.split)
    metrics = registry("metrics")
    sc, lsd = metrics.build("spectral-convergence", {}), metrics.build("log-spectral-distance", {})
    levels = tuple(args.levels.split(","))
    totals: dict[str, list[float]] = {}
    seconds = 0.0
    indices = notes.spread(len(dataset), args.notes)
    for batch in notes.batches(dataset, indices, pipeline.config.num_samples, args.batch_size):
        raw = batch.audio.float()
        spec = pipeline.spectrogram(raw)
        labels = batch.conditioning()
        start = time.perf_counter()
        searched = search_codes(pipeline, spec, labels, candidates=args.candidates, sweeps=args.sweeps,
                                levels=levels, objective=args.objective)
        seconds += time.perf_counter() - start
        for name, codes in {"nearest": pipeline.quantizer.encode(spec), "searched": searched}.items():
            recon = pipeline.decode_codes(codes, labels)
            audio = pipeline.audio_from_spectrogram(recon, raw.shape[-1], labels.pitch).float()
            for key, values in {"objective": distance(pipeline, recon, spec, args.objective),
                                "sc": sc(raw, audio), "lsd_db": lsd(raw, audio),
                                "level_db": level_error_db(raw, audio)}.items():
                totals.setdefault(f"{name} {key}", []).extend(values.double().tolist())
    print(f"{len(indices)} {args.split} notes; {args.candidates} candidates, {args.sweeps} sweep(s) over "
          f"{', '.join(levels)}, {args.objective} objective; search {seconds:.1f} s "
          f"({seconds / len(indices):.2f} s a note)")
    for key, values in totals.items():
        print(f"{key:>22}: {sum(values) / len(values):.4f}")


if __name__ == "__main__":
    main()
