"""`specinpaint extract-codes BUNDLE DATASET_ROOT --out DIR [--split train ...]`: codemaps and labels
of dataset splits, written as code stores DIR/<split> (what the priors train on)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "extract-codes",
        help="encode dataset splits with a trained pipeline into code stores (DIR/<split>)",
    )
    parser.add_argument("bundle", help="trained pipeline bundle directory")
    parser.add_argument("dataset", help="dataset root (NSynth layout); 'config' = the bundle's data section")
    parser.add_argument("--out", required=True, help="output directory (one store per split inside)")
    parser.add_argument("--split", action="append", help="split to extract (repeatable; default train and valid)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from specinpaint.core.pipeline import Pipeline
    from specinpaint.training.data import build_dataset
    from specinpaint.training.extract import extract_codes

    pipeline = Pipeline.load(args.bundle)
    config = pipeline.config
    splits = args.split or [config.data.train_split, config.data.valid_split]
    root = None if args.dataset == "config" else args.dataset
    for split in splits:
        dataset = build_dataset(config, split, root)
        store = extract_codes(pipeline, dataset, Path(args.out) / split, split, batch_size=args.batch_size,
                              device=args.device, progress=not args.no_progress,
                              meta={"dataset_root": root})
        print(f"{split}: {len(store)} codemaps {dict(store.shapes)} -> {store.root}")
    return 0
