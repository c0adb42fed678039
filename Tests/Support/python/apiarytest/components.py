"""The shared component files, Tests/Fixtures/components/*.yaml (see the README there).

Their variable parts are placeholders `${NAME}`; render() fills them in and refuses
a file with one left over, or a value for a placeholder the file does not have.

    python3 Tests/Support/python/apiarytest/components.py FILE [NAME=VALUE ...]

prints one rendered file (Scripts/demo.sh uses it)."""

from __future__ import annotations

import json
import os
import re
import sys

COMPONENTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                           "Fixtures", "components"))
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def path(name: str) -> str:
    """The fixture file `name` (e.g. "memstore.yaml")."""
    return os.path.join(COMPONENTS, name)


def render(name: str, **values) -> str:
    """The text of fixture file `name` with every `${KEY}` replaced by values[KEY]."""
    with open(path(name), encoding="utf-8") as handle:
        text = handle.read()
    wanted = set(PLACEHOLDER.findall(text))
    missing, unknown = wanted - set(values), set(values) - wanted
    if missing or unknown:
        raise ValueError(f"{name}: placeholders without a value {sorted(missing)}, "
                         f"values without a placeholder {sorted(unknown)}")
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


def write(folder: str, name: str, **values) -> str:
    """Renders fixture file `name` into `folder` (same file name); answers its path."""
    target = os.path.join(folder, name)
    with open(target, "w", encoding="utf-8") as out:
        out.write(render(name, **values))
    return target


def component_yaml(name: str, type_: str, metadata: dict | None = None, scopes=None, ignore_errors: bool = False,
                   empty_metadata: bool = True) -> str:
    """A Component resource (v1) as YAML, built in code rather than from a fixture file:
    spec.ignoreErrors when asked, spec.metadata from `metadata` (every value a JSON
    string; `metadata: []` when there is none, unless `empty_metadata` is False), and
    the top-level scopes (JSON flow style) when given."""
    lines = ["apiVersion: dapr.io/v1alpha1", "kind: Component", "metadata:", f"  name: {name}", "spec:",
             f"  type: {type_}", "  version: v1"]
    if ignore_errors:
        lines.append("  ignoreErrors: true")
    if metadata:
        lines.append("  metadata:")
        for key, value in metadata.items():
            lines += [f"    - name: {key}", f"      value: {json.dumps(str(value))}"]
    elif empty_metadata:
        lines.append("  metadata: []")
    if scopes:
        lines.append(f"scopes: {json.dumps(scopes)}")
    return "\n".join(lines) + "\n"


def main(argv: list) -> int:
    if not argv or any("=" not in pair for pair in argv[1:]):
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    try:
        sys.stdout.write(render(argv[0], **dict(pair.split("=", 1) for pair in argv[1:])))
    except (OSError, ValueError) as error:
        print(f"components: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
