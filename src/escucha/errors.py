"""One exception family for everything escucha reports to a user.

Every message names the offending file or value and says what would be accepted,
so the command line can print it as a single line instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "EscuchaError",
    "AudioError",
    "CorpusError",
    "ModelError",
    "ConfigError",
    "StoreError",
]


class EscuchaError(Exception):
    """Base class of all errors raised by escucha on bad input."""


class AudioError(EscuchaError):
    """Audio that cannot be decoded or is unusable (empty, non-finite, too short)."""


class CorpusError(EscuchaError):
    """A corpus folder or manifest that cannot be read."""


class ModelError(EscuchaError):
    """A checkpoint that cannot be loaded or a model name that is unknown."""


class ConfigError(EscuchaError):
    """An option with a value outside what is accepted."""


class StoreError(EscuchaError):
    """The store (its database) could not be read or written just now: unreachable, locked for
    too long, out of space. Worth retrying; the service answers 503."""
