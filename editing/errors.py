"""The one error type of the editing room."""

from __future__ import annotations

from specinpaint.core.errors import SpecinpaintError


class EditError(SpecinpaintError):
    """An edit request that cannot be carried out (bad region, bad codes, unknown level, a label
    the bundle does not offer): one line saying what is wrong."""
