"""High-level editing API mixed into `Pipeline` (generate, inpaint, attenuate, sample packs).

Filled in by the interactive-inpainting work (issue 7); kept apart from `pipeline.py` so the
bundle/composition code and the editing code stay small.
"""

from __future__ import annotations


class EditingMixin:
    """Methods that use only the core contracts (Representation, Quantizer, Prior)."""
