"""Exception types: every user-facing failure is one of these, with a one-line message."""


class SpecinpaintError(Exception):
    """Base class: the CLI prints `error: <message>` for these instead of a traceback."""


class PluginError(SpecinpaintError):
    """Unknown, duplicate or broken plugin."""


class ConfigError(SpecinpaintError):
    """Invalid pipeline YAML: the message names the file and the dotted key path."""


class BundleError(SpecinpaintError):
    """A saved pipeline bundle or checkpoint is missing, truncated or does not match its config."""


class AudioInputError(SpecinpaintError):
    """Audio that cannot be used (NaN/inf, empty, unreadable, wrong shape)."""


class DataError(SpecinpaintError):
    """Dataset problems: missing files, bad metadata, corrupt WAVs."""
