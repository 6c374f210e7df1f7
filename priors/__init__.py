"""Transformer priors over codemaps, attention backends and samplers."""
