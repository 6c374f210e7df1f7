"""`specinpaint train vqvae|prior-LEVEL|all CONFIG [dotted.key=value ...] --out RUN_DIR`.

Stages come from the config: ``vqvae``, then ``prior-<level>`` for each quantizer level with a prior,
coarsest first (``prior-top``, ``prior-bottom`` for the built-in configs).

Single process by default; for several GPUs or machines launch the same command under torchrun, e.g.
``torchrun --standalone --nproc_per_node 4 .venv/bin/specinpaint train all configs/paper.yaml --out runs/paper``
(README, "Training at scale": batch_size is per process, checkpoints and logs come from rank 0).
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train the VQ-VAE (vqvae), one level's prior (prior-LEVEL, e.g. prior-top) or everything (all)",
        description="Train one stage of a pipeline into RUN_DIR (RUN_DIR/bundle is updated after each "
        "finished stage; prior stages extract codes into RUN_DIR/codes first when needed). Several GPUs or "
        "machines: run the same command under torchrun, e.g. torchrun --standalone --nproc_per_node 4 "
        ".venv/bin/specinpaint train all CONFIG --out RUN_DIR; training.*.batch_size is per process (global "
        "batch = batch_size x processes), only rank 0 writes checkpoints, logs and the bundle. Each level with a "
        "prior has a stage prior-LEVEL (trained with training.priors.LEVEL), coarsest level first.",
    )
    parser.add_argument("stage", metavar="STAGE",
                        help="vqvae, prior-LEVEL (one per level with a prior: prior-top, prior-bottom, ...) or all")
    parser.add_argument("config", help="pipeline YAML (a path or a built-in name such as 'tiny')")
    parser.add_argument("overrides", nargs="*", help="dotted overrides (after CONFIG, before or after the options), e.g. training.quantizer.steps=500")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue the run found in RUN_DIR")
    parser.add_argument("--bundle", help="prior stages: trained pipeline bundle (default RUN_DIR/bundle)")
    parser.add_argument("--codes", help="prior stages: code store directory (default RUN_DIR/codes)")
    parser.add_argument("--fine-tune", action="store_true",
                        help="prior stages: continue from the bundle's trained prior of that level (default: a "
                        "prior the bundle already holds trained starts again from fresh weights)")
    parser.add_argument("--stop-after", type=int, help="end this call after that global step (resume later)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from specinpaint.core.errors import ConfigError
    from specinpaint.core.yaml_config import load_config
    from specinpaint.training.stages import stage_level, stages_for, train_stage

    config = load_config(args.config, args.overrides)
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    known = stages_for(config)
    stages = known if args.stage == "all" else (args.stage,)
    result = None
    for stage in stages:
        level = stage_level(stage)
        if level is not None and level not in config.priors:
            print(f"skipping {stage}: the config has no prior for that level")
            continue
        if stage not in known:
            raise ConfigError(f"unknown training stage '{stage}' (stages of this config: {', '.join(known)}, all)")
        result = train_stage(
            stage, config, args.out, resume=args.resume or (args.stage == "all" and stage != stages[0]),
            progress=not args.no_progress, bundle=args.bundle, codes_dir=args.codes, stop_after=args.stop_after,
            fine_tune=args.fine_tune,
        )
        state = "finished" if result.finished else "stopped"
        if main_rank:
            print(f"{stage}: {state} at step {result.steps}; bundle: {result.bundle or '(not saved yet)'}")
            print(json.dumps(result.final_metrics, indent=1, sort_keys=True, default=float))
        if not result.finished:
            break
    return 0
