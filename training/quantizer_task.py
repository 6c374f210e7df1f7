"""Training the pipeline's quantizer (the VQ-VAE-2) with the generic engine.

Spectrograms are computed on the training device, in batches, by ``pipeline.spectrogram`` (the
representation and the normaliser are fixed, not trained). When the normaliser needs statistics it
is fitted first, in one streaming pass over the first ``fit_batches`` training batches in dataset
order (`FIT_BATCHES` by default; 0 or None = the whole training split), computed on rank 0 and
broadcast, so every rank gets the same statistics. With ``timbre_loss_weight`` the timbre critic
(`timbre_critic`) is trained next, on rank 0, and broadcast the same way; both are saved with the
checkpoint, so a resumed run neither refits nor retrains them. With ``adversarial_loss_weight`` a
discriminator trains beside the quantizer (`adversary`); its weights, optimiser state and step
count are saved with the checkpoint too, so a resumed run continues it exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, Subset

from specinpaint.core.bundle import METADATA_FILE, read_extras
from specinpaint.core.conditioning import NSYNTH_FAMILIES, NULL_LABEL, Conditioning
from specinpaint.core.config import TrainingConfig
from specinpaint.core.errors import ConfigError
from specinpaint.core.pipeline import Pipeline
from specinpaint.core.quantizer import Quantizer, QuantizerOutput

from .adversary import Adversary
from .batches import eval_batches, train_batches
from .checkpoint import BEST, load_checkpoint
from .data import AudioBatch, AudioCollate
from .data_record import record_data
from .distributed import DistContext, setup_distributed
from .engine import CHECKPOINT_DIR, train
from .losses import cleaned_output, level_convergence_loss, multi_resolution_stft_loss
from .result import BUNDLE_DIR, TrainResult, record_training
from .samples import write_reconstruction_samples
from .signature import pipeline_signature, signature_defaults
from .spectrogram_cache import CachedSpectrograms, cache_spectrograms
from .task import TrainingTask
from .timbre_critic import TimbreCritic, timbre_loss, train_critic

log = logging.getLogger(__name__)

#: Training batches (of `FIT_BATCH_SIZE` notes, in dataset order) the normaliser statistics are
#: fitted on by default: 512 notes. 0 or None fits on the whole training split.
FIT_BATCHES = 32
FIT_BATCH_SIZE = 16
#: Notes per training batch of the timbre critic, and the prefix of its weights in the checkpoint.
CRITIC_BATCH_SIZE = 16
CRITIC_STATE = "timbre_critic."
#: Prefix of the adversary's state (discriminator, its optimiser, its step count) in the checkpoint.
ADVERSARY_STATE = "adversary."
#: Seed of the timbre critic's initial weights and of the order of its training notes.
CRITIC_SEED = 0


def configured_fit_batches(config: TrainingConfig) -> int | None:
    """``config.fit_batches`` when the training config has such a field, else `FIT_BATCHES`."""
    return getattr(config, "fit_batches", FIT_BATCHES)


@dataclass
class SpecBatch:
    """A prepared batch: raw audio [B, N], normalised spectrograms [B, C, F, T] on the device, and
    the labels (given to the quantizer only when its decoder takes them)."""

    audio: torch.Tensor
    spec: torch.Tensor
    conditioning: Conditioning | None = None

    def inputs(self, quantizer: Quantizer) -> tuple:
        """The positional arguments of the quantizer's forward pass."""
        if quantizer.label_conditioned and self.conditioning is not None:
            return (self.spec, self.conditioning)
        return (self.spec,)


def _family_of(item: Mapping[str, Any]) -> int:
    family = item.get("family")
    return NULL_LABEL if family is None else int(family)


class QuantizerTask(TrainingTask):
    """Reconstruction (+ commitment, + the optional level, multi-resolution STFT, timbre and
    adversarial terms) training of the quantizer."""

    name = "quantizer"
    _SIGNED = ("representation", "normalizer", "quantizer")

    def __init__(
        self,
        pipeline: Pipeline,
        train_set: Dataset,
        valid_set: Dataset | None = None,
        *,
        fit_batches: int | None = FIT_BATCHES,
        num_samples_to_write: int = 4,
        cache: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.module = pipeline.quantizer
        self._train_set, self.valid_set = train_set, valid_set
        self.collate = AudioCollate(pipeline.config.num_samples)
        self.fit_batches = fit_batches
        self.cache = cache
        self._cache_device: torch.device | None = None  # set by setup: the cache is filled on first read
        self.num_samples_to_write = num_samples_to_write
        params = pipeline.quantizer.params
        self.stft_weight = float(getattr(params, "stft_loss_weight", 0.0) or 0.0)
        self.stft_sizes = list(getattr(params, "stft_loss_fft_sizes", (512, 1024, 2048)))
        self.level_weight = float(getattr(params, "level_loss_weight", 0.0) or 0.0)
        self.after_clean = bool(getattr(params, "recon_after_clean", False))
        self.level_channel = int(pipeline.representation.level_channel)
        self.level_is_power = bool(pipeline.representation.level_is_power)
        self._fit_batch_size = FIT_BATCH_SIZE
        self._families: list[int] | None = None  # the training notes' families, read once when needed
        self.timbre_weight = float(getattr(params, "timbre_loss_weight", 0.0) or 0.0)
        self.critic: TimbreCritic | None = None
        self._critic_restored = False
        if self.timbre_weight > 0:
            families = int(getattr(params, "decoder_label_families", len(NSYNTH_FAMILIES)))
            with torch.random.fork_rng(devices=[]):  # the same initial critic on every run; the global streams untouched
                torch.default_generator.manual_seed(CRITIC_SEED)  # (torch.manual_seed would also reseed CUDA)
                self.critic = TimbreCritic(families, int(getattr(params, "timbre_critic_width", 16)))
            self.critic_steps = int(getattr(params, "timbre_critic_steps", 300))
        self.adversarial_weight = float(getattr(params, "adversarial_loss_weight", 0.0) or 0.0)
        self.feature_weight = float(getattr(params, "adversarial_feature_weight", 0.0) or 0.0)
        self.adversary: Adversary | None = None
        if self.adversarial_weight > 0:
            self.adversary = Adversary(int(getattr(params, "decoder_label_families", len(NSYNTH_FAMILIES))),
                                       width=int(getattr(params, "adversarial_width", 16)),
                                       lr=float(getattr(params, "adversarial_lr", 2e-4)),
                                       start_step=int(getattr(params, "adversarial_start_step", 200)))

    @property
    def train_set(self) -> Dataset:
        """The training notes; once `setup` armed ``cache``, with their spectrograms, computed on
        the first read after it (the engine reads it only when steps remain, so resuming a finished
        stage computes none)."""
        if self._cache_device is not None and not isinstance(self._train_set, CachedSpectrograms):
            device, self._cache_device = self._cache_device, None  # one try: a cache that does not fit is not retried
            cached = cache_spectrograms(self._train_set, self.collate, self.pipeline.spectrogram, device)
            if cached is not None:
                self._train_set = cached
        return self._train_set

    @train_set.setter
    def train_set(self, dataset: Dataset) -> None:
        self._train_set = dataset

    def signature(self) -> dict[str, Any]:
        return pipeline_signature(self.pipeline, *self._SIGNED)

    def signature_defaults(self) -> dict[str, Any]:
        return signature_defaults(self.pipeline, *self._SIGNED)

    def to(self, device: torch.device) -> None:
        self.pipeline.to(device)
        if self.critic is not None:
            self.critic.to(device)
        if self.adversary is not None:
            self.adversary.to(device)

    def items_in(self, batch: SpecBatch) -> int:
        return batch.audio.shape[0]

    @torch.no_grad()
    def prepare(self, batch: AudioBatch, device: torch.device) -> SpecBatch:
        audio = batch.audio.to(device, non_blocking=True)
        if batch.spectrogram is not None:  # read from the training set's cache (cache_spectrograms)
            spec = batch.spectrogram.to(device, non_blocking=True)
        else:
            spec = self.pipeline.spectrogram(audio)
        return SpecBatch(audio, spec, batch.conditioning().to(device))

    def compute_loss(self, module: nn.Module, batch: SpecBatch) -> tuple[torch.Tensor, dict[str, Any]]:
        out = module(*batch.inputs(self.pipeline.quantizer))
        if self.after_clean:
            self._recon_after_clean(out, batch.spec)
        loss = out.loss
        metrics: dict[str, Any] = {f"loss/{k}": v.detach() for k, v in out.losses.items()}
        metrics.update(out.metrics)
        if self.level_weight > 0:
            with torch.autocast(device_type=batch.spec.device.type, enabled=False):
                denormalize, c = self.pipeline.normalizer.denormalize, self.level_channel
                level = level_convergence_loss(denormalize(out.reconstruction.float())[:, c],
                                               denormalize(batch.spec.float())[:, c], self.level_is_power)
            loss = loss + self.level_weight * level
            metrics["loss/level"] = level.detach()
        if self.stft_weight > 0:
            with torch.autocast(device_type=batch.spec.device.type, enabled=False):
                pitch = batch.conditioning.pitch if batch.conditioning is not None else None
                decoded = self.pipeline.audio_from_spectrogram(out.reconstruction.float(), batch.audio.shape[-1], pitch)
                stft = multi_resolution_stft_loss(decoded, batch.audio, self.stft_sizes)
            loss = loss + self.stft_weight * stft
            metrics["loss/stft"] = stft.detach()
        if self.critic is not None:
            c = self.level_channel
            with torch.autocast(device_type=batch.spec.device.type, enabled=False):
                timbre = timbre_loss(self.critic, out.reconstruction[:, c:c + 1].float(), batch.spec[:, c:c + 1].float())
            loss = loss + self.timbre_weight * timbre
            metrics["loss/timbre"] = timbre.detach()
        if self.adversary is not None and module.training:  # validation losses stay comparable across steps
            loss = loss + self._adversarial_terms(out.reconstruction, batch, metrics)
        return loss, metrics

    def _adversarial_terms(self, reconstruction: torch.Tensor, batch: SpecBatch,
                           metrics: dict[str, Any]) -> torch.Tensor:
        """A discriminator step, then the weighted adversarial and feature-matching terms (zero
        before the adversary's start step); their values join ``metrics``."""
        assert self.adversary is not None
        c = self.level_channel
        device = batch.spec.device
        family = (batch.conditioning.family.to(device).long() if batch.conditioning is not None
                  else torch.full((batch.spec.shape[0],), NULL_LABEL, dtype=torch.long, device=device))
        with torch.autocast(device_type=device.type, enabled=False):
            terms = self.adversary.terms(reconstruction[:, c:c + 1].float(), batch.spec[:, c:c + 1].float(), family)
        if not terms:
            return reconstruction.new_zeros(())
        metrics.update({f"loss/{name}": value.detach() for name, value in terms.items()})
        return self.adversarial_weight * terms["adversarial"] + self.feature_weight * terms["feature_matching"]

    def _recon_after_clean(self, out: QuantizerOutput, target: torch.Tensor) -> None:
        """``recon_after_clean``: replace the output by its cleaned version (see
        `losses.cleaned_output`) and the reconstruction loss by the loss on it, in place."""
        quantizer = self.pipeline.quantizer
        with torch.autocast(device_type=target.device.type, enabled=False):
            cleaned = cleaned_output(out.reconstruction, self.pipeline.representation, self.pipeline.normalizer)
            recon, per_channel = quantizer.recon_loss(cleaned, target)  # type: ignore[operator]
        out.reconstruction = cleaned
        out.losses["recon"] = recon
        kind = getattr(quantizer.params, "recon_loss", "mse")
        for i, value in enumerate(per_channel.detach()):
            out.metrics[f"recon/{kind}_c{i}"] = value  # 0-d tensors: no device sync per step

    # -- normaliser ------------------------------------------------------------------------------
    def setup(self, ctx: DistContext, resumed: bool) -> None:
        self._fit_normalizer(ctx)
        if self.critic is not None and not self._critic_restored:
            self._train_critic(ctx)
        if self.adversary is not None:
            self._check_families(self.adversary.net.family.num_embeddings - 1, "discriminator")
            self.adversary.distributed = ctx.distributed
        if self.cache and not isinstance(self._train_set, CachedSpectrograms):  # after the fit: normalised
            self._cache_device = ctx.device

    def _fit_normalizer(self, ctx: DistContext) -> None:
        normalizer = self.pipeline.normalizer
        if not normalizer.needs_fit:
            return
        representation = self.pipeline.representation
        device = ctx.device
        total = -(-len(self.train_set) // self._fit_batch_size)  # type: ignore[arg-type]
        count = min(self.fit_batches, total) if self.fit_batches else total

        def raw_spectrograms():
            for batch in eval_batches(self.train_set, self.collate, batch_size=self._fit_batch_size,
                                      max_batches=count, rank=0, world_size=1):
                with torch.no_grad():
                    audio = batch.audio.to(device)
                    yield representation.clean(representation.encode(audio))

        if ctx.is_main:
            log.info("fitting the %s normaliser on %d of %d training batches of %d notes",
                     self.pipeline.config.normalizer.name, count, total, self._fit_batch_size)
        normalizer.fit(raw_spectrograms())
        if ctx.distributed:
            for tensor in normalizer.buffers():
                dist.broadcast(tensor, src=0)

    def _train_critic(self, ctx: DistContext) -> None:
        """Train the timbre critic on rank 0 (random training notes, after the normaliser, so it sees
        what the quantizer sees), then give every rank its weights; it stays frozen from then on."""
        assert self.critic is not None
        labelled = self._labelled_notes()  # on every rank: a label error stops them all, not rank 0 alone
        if ctx.is_main:
            accuracy = train_critic(self.critic, self._critic_batches(labelled, ctx.device), self.critic_steps)
            log.info("timbre critic: %d steps of %d notes, family accuracy %.2f on its last batches",
                     self.critic_steps, CRITIC_BATCH_SIZE, accuracy)
        else:
            self.critic.eval().requires_grad_(False)
        if ctx.distributed:
            for tensor in self.critic.state_dict().values():
                dist.broadcast(tensor, src=0)

    def _labelled_notes(self) -> list[int]:
        """Indices of the training notes with a family label; a clear error when there are too few
        or a family is beyond the critic's classes."""
        families = self._check_families(self.critic.head.out_features, "timbre critic")  # type: ignore[union-attr]
        labelled = [i for i, f in enumerate(families) if f != NULL_LABEL]
        if len(labelled) < CRITIC_BATCH_SIZE:
            raise ConfigError(f"quantizer.params.timbre_loss_weight needs family labels: the training split has "
                              f"{len(labelled)} labelled notes, fewer than one critic batch of {CRITIC_BATCH_SIZE}")
        return labelled

    def _check_families(self, num_families: int, what: str) -> list[int]:
        """The training notes' family indices (NULL_LABEL where absent), checked against the
        ``num_families`` a training aid knows, before the first step and on every rank (an error
        on one rank mid-step would leave the others waiting)."""
        if self._families is None:
            column = getattr(self.train_set, "families", None)  # NSynth-like sets list them; others are read once
            if column is None:
                column = [_family_of(self.train_set[i]) for i in range(len(self.train_set))]  # type: ignore[arg-type]
            self._families = [int(f) for f in column]
        if self._families and max(self._families) >= num_families:
            raise ConfigError(f"family index {max(self._families)} is beyond the {what}'s {num_families} families "
                              "(raise quantizer.params.decoder_label_families)")
        return self._families

    def _critic_batches(self, labelled: list[int], device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless (normalised level, family) batches of the labelled training notes in a seeded
        random order (the dataset's own order may group instruments)."""
        c = self.level_channel
        for batch in train_batches(Subset(self.train_set, labelled), self.collate, batch_size=CRITIC_BATCH_SIZE,
                                   seed=CRITIC_SEED, rank=0, world_size=1, start_step=0):
            with torch.no_grad():
                spec = self.pipeline.spectrogram(batch.audio.to(device))
            yield spec[:, c:c + 1].float(), batch.family.to(device)

    def extra_state(self) -> dict[str, torch.Tensor]:
        state = dict(self.pipeline.normalizer.state_dict())
        if self.critic is not None:
            state.update({CRITIC_STATE + k: v for k, v in self.critic.state_dict().items()})
        if self.adversary is not None:
            state.update({ADVERSARY_STATE + k: v for k, v in self.adversary.state().items()})
        return state

    def load_extra_state(self, state: Mapping[str, torch.Tensor]) -> None:
        normalizer_state = {k: v for k, v in state.items() if not k.startswith((CRITIC_STATE, ADVERSARY_STATE))}
        if normalizer_state:
            self.pipeline.normalizer.load_state_dict(normalizer_state)
        critic_state = {k[len(CRITIC_STATE):]: v for k, v in state.items() if k.startswith(CRITIC_STATE)}
        if self.critic is not None and critic_state:
            self.critic.load_state_dict(critic_state)
            self.critic.eval().requires_grad_(False)
            self._critic_restored = True
        adversary_state = {k[len(ADVERSARY_STATE):]: v for k, v in state.items() if k.startswith(ADVERSARY_STATE)}
        if self.adversary is not None and adversary_state:
            self.adversary.load_state(adversary_state)

    # -- samples ---------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self, step: int, directory: Path) -> None:
        source = self.valid_set if self.valid_set is not None else self.train_set
        count = min(self.num_samples_to_write, len(source))  # type: ignore[arg-type]
        batch = self.collate([source[i] for i in range(count)])
        device = self.pipeline.device
        prepared = self.prepare(batch, device)
        was_training = self.module.training
        self.module.eval()
        try:
            out = self.module(*prepared.inputs(self.pipeline.quantizer))
            recon = out.reconstruction.float()
            pitch = prepared.conditioning.pitch if prepared.conditioning is not None else None
            audio = self.pipeline.audio_from_spectrogram(recon, prepared.audio.shape[-1], pitch)
        finally:
            self.module.train(was_training)
        representation, normalizer = self.pipeline.representation, self.pipeline.normalizer
        raw_input = representation.clean(normalizer.denormalize(prepared.spec))
        raw_recon = representation.clean(normalizer.denormalize(recon))
        write_reconstruction_samples(
            directory, prepared.audio, raw_input, raw_recon, audio, self.pipeline.sample_rate,
            freqs_hz=representation.bin_frequencies_hz(), times_s=representation.frame_times_s(recon.shape[-1]),
            channel_names=tuple(getattr(representation, "channel_names", ())), codes=dict(out.codes.items()),
            num_codes=self.pipeline.quantizer.num_codes,
        )


def _load_weights(task: TrainingTask, path: Path) -> int:
    _, state = load_checkpoint(path, task=task.name, signature=task.signature(), defaults=task.signature_defaults())
    task.module.load_state_dict(state["module"])
    return int(state["step"])


def finish_run(
    task: TrainingTask,
    outcome,
    out_dir: Path,
    ctx: DistContext,
    key: str,
    bundle_weights: Literal["best", "last"],
    *,
    drop_keys: tuple[str, ...] = (),
    bundle_dir: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Path | None:
    """Load the chosen weights, record the training in the pipeline's extras and save the bundle
    (rank 0; only for a finished run). Returns the bundle path (None for an unfinished run)."""
    pipeline = getattr(task, "pipeline", None)  # the quantizer and prior tasks hold the pipeline they train
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"task '{task.name}' holds no pipeline to save")
    if not outcome.finished:
        return None
    bundle = Path(bundle_dir) if bundle_dir is not None else out_dir / BUNDLE_DIR
    if outcome.resumed_from == outcome.steps and (bundle / METADATA_FILE).exists():
        # nothing trained in this call: the saved bundle may hold later stages, keep it
        best = out_dir / CHECKPOINT_DIR / BEST
        if bundle_weights == "best" and best.exists():
            _load_weights(task, best)
        saved = read_extras(bundle).get("trained", {})
        if key in saved:
            pipeline.extras.setdefault("trained", {})[key] = saved[key]
        return bundle
    weights, weights_step = "last", outcome.steps
    best = out_dir / CHECKPOINT_DIR / BEST
    if bundle_weights == "best" and best.exists():
        weights_step = _load_weights(task, best)
        weights = "best"
    for stale in drop_keys:
        pipeline.extras.get("trained", {}).pop(stale, None)
    record_training(pipeline, key, outcome, weights, weights_step=weights_step, **(extra or {}))
    if ctx.is_main:
        pipeline.save(bundle)
    ctx.barrier()
    return bundle


def train_quantizer(
    pipeline: Pipeline,
    config: TrainingConfig | None = None,
    train_data: Dataset | None = None,
    valid_data: Dataset | None = None,
    out_dir: str | Path = "runs/quantizer",
    *,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    fit_batches: int | None = FIT_BATCHES,
    sample_count: int = 4,
    bundle_weights: Literal["best", "last"] = "best",
    bundle_dir: str | Path | None = None,
    ctx: DistContext | None = None,
) -> TrainResult:
    """Train ``pipeline.quantizer`` and save the pipeline bundle to ``bundle_dir`` (default
    ``OUT_DIR/bundle``).

    ``config`` defaults to ``pipeline.config.training.quantizer``; ``train_data``/``valid_data``
    are datasets of note items (see training/data.py), built from the pipeline's data config when
    None. Metrics go to ``OUT_DIR/metrics.jsonl``, checkpoints to ``OUT_DIR/checkpoints``, samples
    (``sample_count`` notes every ``config.sample_every`` steps) to ``OUT_DIR/samples``.

    Normaliser: when it needs statistics, it is fitted before training in one streaming pass over
    the FIRST ``fit_batches`` batches of 16 training notes in dataset order (default `FIT_BATCHES`
    = 32, i.e. 512 notes, not a random sample); ``fit_batches=0`` or ``None`` uses the whole
    training split, each note once. A normaliser restored from a checkpoint is not refitted.
    With ``config.cache_spectrograms`` every training note's spectrogram is computed once, after
    the fit, and kept in memory (training/spectrogram_cache.py).

    The saved pipeline's ``extras['trained']['quantizer']`` records steps and final metrics (and any
    previously trained priors are marked stale by removing their record); ``extras['labels']`` and
    ``extras['data']`` record the training data's label encoders and split (see data_record.py).
    """
    config = config or pipeline.config.training.quantizer
    out = Path(out_dir)
    if train_data is None:
        from .data import build_dataset

        train_data = build_dataset(pipeline.config, pipeline.config.data.train_split)
        if valid_data is None:
            valid_data = build_dataset(pipeline.config, pipeline.config.data.valid_split)
    if fit_batches is not None and fit_batches < 0:
        raise ConfigError(f"fit_batches must be >= 0 or None (whole training split), got {fit_batches}")
    record_data(pipeline, train_data, valid_data)
    own_ctx = ctx is None
    ctx = ctx or setup_distributed(config.device)
    try:
        task = QuantizerTask(pipeline, train_data, valid_data, fit_batches=fit_batches,
                             num_samples_to_write=sample_count, cache=config.cache_spectrograms)
        outcome = train(task, config, out, resume=resume, progress=progress, stop_after=stop_after, ctx=ctx)
        bundle = finish_run(task, outcome, out, ctx, "quantizer", bundle_weights, bundle_dir=bundle_dir,
                            drop_keys=tuple(f"prior_{level}" for level in pipeline.quantizer.levels))
    finally:
        if own_ctx:
            ctx.close()
    return TrainResult(pipeline, outcome, out, bundle if ctx.is_main else None)
