"""Loading Apprise: once, with its plugins, without the deprecation warnings of its imports."""

from __future__ import annotations

import threading
import warnings
from types import ModuleType

__all__ = ["load_apprise"]

_load_lock = threading.Lock()
_loaded: ModuleType | None = None


def load_apprise() -> ModuleType:
    """Apprise, its plugins loaded (about 2 s of CPU, once: `Notifier.run` does it early, in a
    worker thread). Some plugins import modules Python deprecates (imghdr): Apprise's business,
    not a warning for our operators."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import apprise

                apprise.Apprise.instantiate("json://localhost/")  # pyright: ignore[reportUnknownMemberType]
            _loaded = apprise
        return _loaded
