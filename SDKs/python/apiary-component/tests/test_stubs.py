"""The committed stubs are what gen_stubs.py makes of the repository's Proto/ now."""

import os
import subprocess
import sys

from conftest import SDK


def test_committed_stubs_are_current():
    result = subprocess.run([sys.executable, os.path.join(SDK, "gen_stubs.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout


def test_generated_modules_do_not_claim_top_level_packages():
    """Their imports live under apiary_component._generated, so another `dapr`
    distribution (the Dapr Python SDK) is never shadowed or needed."""
    generated = os.path.join(SDK, "src", "apiary_component", "_generated")
    for folder, _dirs, files in os.walk(generated):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    for line in handle:
                        assert not line.startswith(("from dapr", "from apiary.", "from spec",
                                                    "import dapr")), (name, line)
