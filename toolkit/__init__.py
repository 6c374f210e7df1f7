"""specinpaint: interactive generation of instrument sounds by spectrogram inpainting.

The top-level folders of the repository (`core/`, `representations/`, `quantizers/`, ...)
are installed as subpackages of this namespace (`specinpaint.core`, ...); see pyproject.toml.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("specinpaint")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
