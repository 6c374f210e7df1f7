"""`specinpaint extract-codes BUNDLE DATASET_ROOT --out DIR [--split train ...]`: codemaps and labels
of dataset splits, written as code stores DIR/<split> (what the priors train on).

Under torchrun the notes are sharded over the processes and rank 0 merges the parts into the same
store a single process writes (training/extract.py)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "extract-codes",
        help="encode dataset splits with a trained pipeline into code stores (DIR/<split>)",
        description="Encode dataset splits with a trained pipeline into code stores DIR/<split>. Under "
        "torchrun (e.g. torchrun --standalone --nproc_per_node 4 .venv/bin/specinpaint extract-codes ...) "
        "each process encodes a contiguous block of batches and rank 0 merges them, in dataset order.",
    )
    parser.add_argument("bundle", help="trained pipeline bundle directory")
    parser.add_argument("dataset", help="dataset root (NSynth layout); 'config' = the bundle's data section")
    parser.add_argument("--out", required=True, help="output directory (one store per split inside)")
    parser.add_argument("--split", action="append", help="split to extract (repeatable; default train and valid)")
    parser.add_argument("--batch-size", type=int, default=32, help="notes per batch (per process)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (under torchrun: cuda:LOCAL_RANK)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from specinpaint.core.errors import ConfigError
    from specinpaint.core.pipeline import Pipeline
    from specinpaint.training.data import build_dataset
    from specinpaint.training.distributed import setup_distributed
    from specinpaint.training.extract import extract_codes

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    pipeline = Pipeline.load(args.bundle)
    config = pipeline.config
    splits = args.split or [config.data.train_split, config.data.valid_split]
    root = None if args.dataset == "config" else args.dataset
    ctx = setup_distributed(args.device)
    try:
        for split in splits:
            dataset = build_dataset(config, split, root)
            store = extract_codes(pipeline, dataset, Path(args.out) / split, split, batch_size=args.batch_size,
                                  progress=not args.no_progress, meta={"dataset_root": root}, ctx=ctx)
            if ctx.is_main:
                print(f"{split}: {len(store)} codemaps {dict(store.shapes)} -> {store.root}")
    finally:
        ctx.close()
    return 0
