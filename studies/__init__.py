"""Measuring pipelines: the evaluation behind `specinpaint evaluate` (reconstruction, generation,
inpainting, priors) and the ablation studies that train a grid of variants and evaluate each one
with that same code."""
