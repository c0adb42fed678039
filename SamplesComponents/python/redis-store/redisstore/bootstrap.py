"""Makes `import apiary_component` work, before anything else is imported.

The SDK is used as installed (``python3 -m pip install SDKs/python/apiary-component``)
when it is; otherwise from this repository's copy, three folders up
(``SDKs/python/apiary-component/src``), which is put on sys.path.  So a clean
clone needs only ``python3 -m pip install -r requirements.txt`` (the SDK's
dependencies, pinned, and redis).
"""

from __future__ import annotations

import os
import sys

SAMPLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(SAMPLE, "requirements.txt")
SDK_SOURCE = os.path.normpath(os.path.join(SAMPLE, "..", "..", "..", "SDKs", "python",
                                           "apiary-component", "src"))


def ensure_sdk(program: str) -> None:
    """Imports apiary_component (and redis), or exits 1 saying what to install."""
    try:
        import apiary_component  # noqa: F401
    except ImportError as error:
        if error.name != "apiary_component":
            _missing(program, error)
        if not os.path.isdir(os.path.join(SDK_SOURCE, "apiary_component")):
            sys.exit(f"{program}: apiary_component is not installed and {SDK_SOURCE} does not "
                     "exist: python3 -m pip install <repository>/SDKs/python/apiary-component")
        sys.path.insert(0, SDK_SOURCE)
        try:
            import apiary_component  # noqa: F401,F811
        except ImportError as again:
            _missing(program, again)
    try:
        import redis  # noqa: F401
    except ImportError as error:
        _missing(program, error)


def _missing(program: str, error: ImportError) -> None:
    sys.exit(f"{program}: {error}: install the requirements with "
             f"python3 -m pip install -r {REQUIREMENTS}")
