#!/usr/bin/env python3
"""Fuzzes Apiary's component file loader (`apiary check` / `apiary run --resources-path`).

    python3 Tests/Fuzz/fuzz_yaml.py [--bin DIR] [--mode check|run] [--seed N] [--cases N] [--jobs N] [--case K] [--keep]

Each case writes one to three component files into a new resources folder. With
`--mode check` (the default) it runs `apiary check --resources-path DIR --app-id fuzz`
on them, which reads them exactly as `apiary run` does at start-up and exits 0 or 1
(about 35 cases/s on 2 cores). With `--mode run` it starts `apiary run` on an empty sockets
folder, ports 0 (the kernel picks free ones), `--component-wait 200ms` and
`--discovery-timeout 200ms`, under `nice -n 19`; the run ends by itself (a rejected
file, a component that fails to start) or prints its start-up table, after which it
gets 0.5 s to fail and then SIGTERM.

Seeds: the samples' components.yaml files (SamplesComponents/*/*/components.yaml), the
YAML literals of the Swift tests (Tests/**/*.swift, multi-line strings holding `kind:`,
interpolations replaced) and a few written here (built-in types, Subscriptions, secret
references, scopes). Mutations: structural ones on the parsed documents (values of
other types, dropped and added keys, duplicated names and documents, odd spec.type,
initTimeout, ignoreErrors, scopes, metadata entries, secretKeyRef and envRef) and
textual ones (lines deleted, duplicated, swapped, re-indented; YAML syntax characters,
tabs, anchors and aliases incl. an alias bomb, tags, directives, document markers,
invalid UTF-8, NUL, BOM, CRLF, truncation, deep flow nesting, huge files) and odd
file names.

Each run gets at most 4 GiB of address space (RLIMIT_AS), so that a case cannot
exhaust the machine; running out of it shows as a crash. Checks: never a crash (a signal
exit other than our SIGTERM, or a Swift fatal error / precondition / backtrace in the
output), never a hang (a case must end or be ready
within 60 s, and stop within 10 s of SIGTERM), exit status 0 or 1 only, and an exit
1 caused by the files (not by a component failing to start) prints an error that
names the file. Prints the cases tried and the rate, outcome histograms and each
finding with its files; exit status 1 on any finding. Case K depends only on the
seed and K; `--case K` runs it alone (with `--keep` its files stay).
"""

from __future__ import annotations

import argparse
import collections
import copy
import glob
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

import yaml  # noqa: E402  (PyYAML: parses seeds for structural mutations)

READY_MARKER = "started (sockets folder"
MAX_FILE = 8 << 20  # bytes of one generated file
MEMORY_LIMIT = 4 << 30  # address space of each apiary run (RLIMIT_AS), so that no case can exhaust the machine
RUNTIME_ERRORS = ("component '", "components ")  # errors about starting components, not about the files

EXTRA_SEEDS = [
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  initTimeout: 2s
  metadata:
    - name: ttlInSeconds
      value: "10"
""",
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: orders-sub
spec:
  pubsubname: pubsub
  topic: orders
  routes:
    default: /orders
scopes:
  - fuzz
""",
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: vault
spec:
  type: secretstores.local.env
  version: v1
  metadata:
    - name: prefix
      value: FUZZ_
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  ignoreErrors: true
  metadata:
    - name: password
      secretKeyRef:
        name: SECRET
        key: SECRET
    - name: region
      envRef: FUZZ_REGION
auth:
  secretStore: vault
scopes: [fuzz, other]
""",
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: files
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - name: secretsFile
      value: /nonexistent/secrets.json
    - name: nestedSeparator
      value: "::"
    - name: multiValued
      value: "true"
""",
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: store
spec:
  type: state.memstore
  version: v1
""",
    # edge values: the longest initTimeout a duration can hold is about 2562047h
    """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: slow
spec:
  type: state.in-memory
  version: v1
  initTimeout: 2562048h
""",
]

TYPES = ["state.in-memory", "pubsub.in-memory", "secretstores.local.env", "secretstores.local.file", "state.memstore",
         "hello.memstore", "bindings.ticker", "state.", ".x", "state", "", "state.in-memory.extra", "STATE.IN-MEMORY",
         "state.in memory", "state.ü", "state./etc/passwd", "state.../../x", "x" * 5000, "lock.redis", "state.\u0000"]
DURATIONS = ["0s", "-1s", "1ms", "5s", "1m30s", "99999999h", "1e9s", "5", "s", "", "1.5s", "10us", "9223372036854775807s",
             "1h1h", "PT5S", "0.0001ms"]
NAMES = ["statestore", "pubsub", "", "a" * 300, "ü", "two words", "../x", "x/y", "-", "0", "null", "~", "apiary",
         "statestore", "STATESTORE", "\u202e", "a:b", "*"]
ODD_VALUES = [None, True, False, 0, -1, 3.5, 10 ** 30, "", "x" * 70000, [], {}, [1, [2, [3]]], {"a": {"b": None}},
              "!!binary", "\u0000", "\ud7ff", "2001-01-01", "0o17", ".inf", "yes", "no", "on", "~"]
SYNTAX_BITS = [":", ": ", "-", "- ", "[", "]", "{", "}", ",", "#", "&a", "*a", "*nope", "!", "!!str ", "!!binary ",
               "!!python/object:os.system ", "!!timestamp ", "%", "@", "`", "|", ">", "'", '"', "\\", "? ", "\t",
               "---", "...", "<<: *a", "\r", "\u0085", "\ufeff", "\u2028"]


def swift_yaml_literals() -> list:
    """Multi-line string literals of the Swift tests that look like component files."""
    out = []
    for path in sorted(glob.glob(os.path.join(fuzzlib.REPO, "Tests", "**", "*.swift"), recursive=True)):
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for match in re.finditer(r'"""\n(.*?)\n([ \t]*)"""', text, re.S):
            body, indent = match.group(1), match.group(2)
            if "kind:" not in body and "apiVersion" not in body:
                continue
            lines = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in body.split("\n")]
            interpolation = r"\\\((?:[^()]|\([^()]*\))*\)"
            lines = [line for line in lines if not re.fullmatch(r"\s*" + interpolation + r"\s*", line)]
            literal = "\n".join(lines) + "\n"
            literal = re.sub(r"(type:\s*)" + interpolation, r"\1state.in-memory", literal)
            literal = re.sub(interpolation, "x", literal)  # \(interpolation) -> x
            out.append(literal)
    return out


def load_seeds() -> list:
    seeds = []
    for path in sorted(glob.glob(os.path.join(fuzzlib.REPO, "SamplesComponents", "*", "*", "components.yaml"))):
        with open(path, encoding="utf-8") as f:
            seeds.append(f.read())
    seeds += swift_yaml_literals()
    # The component files the tests share (Tests/Fixtures/components), placeholders filled.
    for path in sorted(glob.glob(os.path.join(fuzzlib.paths.COMPONENTS, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            seeds.append(fuzzlib.components.PLACEHOLDER.sub("x", f.read()))
    seeds += EXTRA_SEEDS
    return seeds


# ----------------------------------------------------------------------------- mutations


def dump(docs: list) -> str:
    return yaml.dump_all(docs, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True, width=1 << 20)


def structural(rng: random.Random, text: str) -> tuple:
    """A mutation of the parsed documents, dumped again; (text, name) or None."""
    try:
        return structural_unchecked(rng, text)
    except (Exception, RecursionError):  # noqa: BLE001  (deep or odd documents PyYAML cannot copy or dump)
        return None


def structural_unchecked(rng: random.Random, text: str) -> tuple:
    # PyYAML's C loader recurses without a bound on deep flow nesting and overflows the
    # C stack (a segfault of this driver, found with seed 2); such texts get textual
    # mutations only.
    if text.count("[") + text.count("{") > 2000:
        return None
    try:
        docs = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except Exception:  # noqa: BLE001
        return None
    docs = [d for d in docs if d is not None]
    if not docs:
        return None
    doc = copy.deepcopy(rng.choice(docs))
    if not isinstance(doc, dict):
        return None
    kind = rng.randrange(14)
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else None
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else None
    name = "structural"
    if kind == 0:
        key = rng.choice(list(doc) or ["spec"])
        doc[key] = rng.choice(ODD_VALUES)
        name = f"top-{key}-odd"
    elif kind == 1 and doc:
        del doc[rng.choice(list(doc))]
        name = "top-key-dropped"
    elif kind == 2 and spec is not None:
        spec["type"] = rng.choice(TYPES)
        name = "spec.type"
    elif kind == 3 and spec is not None:
        spec[rng.choice(["initTimeout", "version", "ignoreErrors"])] = rng.choice(DURATIONS + ["v1", "v2", "", True, 1, None])
        name = "spec-field"
    elif kind == 4 and meta is not None:
        meta["name"] = rng.choice(NAMES + ODD_VALUES[:6])
        name = "metadata.name"
    elif kind == 5:
        doc["scopes"] = rng.choice([["fuzz"], ["other"], [], "fuzz", [["x"]], [None], ["fuzz"] * 1000])
        name = "scopes"
    elif kind == 6 and spec is not None:
        entries = spec.get("metadata") if isinstance(spec.get("metadata"), list) else []
        entry = rng.choice([
            {"name": "k", "value": rng.choice(ODD_VALUES)},
            {"name": "k", "secretKeyRef": rng.choice([{"name": "s", "key": "k"}, {"name": "s"}, {}, "s", None, {"key": 1}])},
            {"name": "k", "envRef": rng.choice(["FUZZ_REGION", "", "NOPE", None, "A" * 1000])},
            {"name": rng.choice(NAMES + ODD_VALUES[:5]), "value": "v"},
            {"name": "k", "value": "v", "envRef": "X"},
            {"value": "v"}, "bare", None, [1],
        ])
        entries = list(entries) + [entry] * rng.choice([1, 1, 2, 500])
        spec["metadata"] = entries
        name = "spec.metadata"
    elif kind == 7:
        doc["auth"] = rng.choice([{"secretStore": "vault"}, {"secretStore": "nope"}, {"secretStore": None}, "vault",
                                  [], {"secretStore": doc.get("metadata", {}).get("name") if meta else "x"}])
        name = "auth"
    elif kind == 8:
        doc["kind"] = rng.choice(["Component", "Subscription", "Configuration", "Resiliency", "component", "", None, 7])
        name = "kind"
    elif kind == 9:
        doc["apiVersion"] = rng.choice(["dapr.io/v1alpha1", "dapr.io/v2alpha1", "dapr.io/v1", "", None, ["x"]])
        name = "apiVersion"
    elif kind == 10:
        times = rng.choice([2, 3, 200]) if len(text) < 20000 else 2
        return dump([doc] * times), "duplicated-document"
    elif kind == 11 and spec is not None:
        node = spec
        for _ in range(rng.choice([10, 100, 400])):
            node["metadata"] = {"nested": {}}
            node = node["metadata"]["nested"]
        name = "deep-mapping"
    elif kind == 12:
        doc = {"apiVersion": "dapr.io/v2alpha1", "kind": "Subscription", "metadata": {"name": rng.choice(NAMES)},
               "spec": rng.choice([{"pubsubname": "pubsub", "topic": "t", "routes": {"default": "/t"}},
                                   {"pubsubname": "pubsub", "topic": "t", "routes": {"rules": [{"match": "x", "path": "/a"}]}},
                                   {"pubsubname": "", "topic": None}, {"topic": "t", "route": "/t", "deadLetterTopic": 1},
                                   "text", None])}
        name = "subscription"
    else:
        other = copy.deepcopy(doc)
        return dump([doc, other]), "same-name-twice"
    try:
        return dump([doc]), name
    except Exception:  # noqa: BLE001
        return None


def textual(rng: random.Random, text: str) -> tuple:
    lines = text.split("\n")
    kind = rng.randrange(18)
    if kind == 0 and len(lines) > 1:
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines), "line-deleted"
    if kind == 1:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines), "line-duplicated"
    if kind == 2 and len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines), "lines-swapped"
    if kind == 3:
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["", " ", "  ", "\t", "    "]) + lines[i].lstrip() if rng.random() < 0.5 else lines[i][1:]
        return "\n".join(lines), "reindented"
    if kind in (4, 5, 6):
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(SYNTAX_BITS) + text[i:], "syntax-char"
    if kind == 7:
        return text[: rng.randrange(len(text) + 1)], "truncated"
    if kind == 8:
        laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        prev = "a"
        for n in range(rng.choice([3, 6, 9])):
            cur = f"b{n}"
            laughs += f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            prev = cur
        target = rng.randrange(4)
        if target == 1:
            text = text + f"scopes: *{prev}\n"
        elif target == 2:
            text = re.sub(r"(\n\s*value:) .*", rf"\1 *{prev}", text, count=1)
        elif target == 3:
            text = re.sub(r"(\n\s*name:) .*", rf"\1 *{prev}", text, count=1)
        return laughs + text, "alias-bomb"
    if kind == 9:
        depth = rng.choice([100, 1000, 10000, 100000])
        return text + "\nextra: " + "[" * depth + "]" * depth + "\n", f"deep-flow-{depth}"
    if kind == 10:
        return rng.choice(["%YAML 1.1\n---\n", "%YAML 2.0\n---\n", "%TAG ! tag:x:\n---\n", "--- !!map\n", "...\n",
                           "---\n---\n---\n", "%FOO\n"]) + text, "directive"
    if kind == 11:
        return "\ufeff" + text if rng.random() < 0.5 else text.replace("\n", "\r\n"), "bom-or-crlf"
    if kind == 12:
        return text + "\n" + "# " + "x" * rng.choice([1 << 16, 1 << 20, 6 << 20]) + "\n", "huge-comment"
    if kind == 13:
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + " &anchor" if rng.random() < 0.5 else lines[i].replace(": ", ": *missing ", 1)
        return "\n".join(lines), "anchor-alias"
    if kind == 14:
        i = rng.randrange(len(lines))
        lines[i] = lines[i].replace(": ", rng.choice([": !!binary ", ": !!int ", ": !!float ", ": !!null ", ": !!seq ",
                                                      ": !custom ", ": !!python/name:os.system "]), 1)
        return "\n".join(lines), "tag"
    if kind == 15:
        times = max(2, min(rng.choice([2, 50, 2000]), MAX_FILE // max(1, len(text))))
        return "\n".join(lines * times), "repeated-content"
    if kind == 16:
        return "", "empty-file"
    return text + rng.choice(["\n- just a list", "\njust text", "\n: : :", "\n{a: b", "\n'unterminated", "\n\"\\xZZ\""]), \
        "appended-garbage"


def byte_level(rng: random.Random, data: bytes) -> tuple:
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), "bit-flips"
    if kind == 1:
        i = rng.randrange(len(data) + 1)
        return bytes(data[:i]) + bytes([rng.choice([0x80, 0xC3, 0xFF, 0xFE, 0xED])]) + bytes(data[i:]), "invalid-utf8"
    if kind == 2:
        i = rng.randrange(len(data) + 1)
        return bytes(data[:i]) + b"\x00" + bytes(data[i:]), "nul"
    return ("\ufeff".encode("utf-16") + bytes(data).decode("utf-8", "replace").encode("utf-16-le")), "utf16"


FILE_NAMES = ["components.yaml", "a.yml", "b.yaml", "with space.yaml", "ünï.yaml", ".hidden.yaml", "x.YAML",
              "notes.txt", "a.yaml.bak", "-dash.yaml", "semi;colon.yaml", "quote'.yaml", "line\nbreak.yaml"]


def make_case(seed: int, index: int, seeds: list) -> tuple:
    """([(file name, bytes)], mutations)."""
    rng = random.Random(f"{seed}:yaml:{index}")
    if index < len(seeds):
        return [("components.yaml", seeds[index].encode())], []
    files = []
    mutations = []
    for n in range(rng.choice([1, 1, 1, 2, 3])):
        text = rng.choice(seeds)
        for _ in range(rng.choice([1, 1, 2, 3])):
            choice = rng.random()
            result = structural(rng, text) if choice < 0.45 and len(text) < 64 * 1024 else None
            if result is None:
                result = textual(rng, text)
            text, name = result
            mutations.append(name)
            if len(text) > MAX_FILE:
                text = text[:MAX_FILE]
                mutations.append("cut")
        data = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.12 and len(data) < MAX_FILE // 2:
            data, name = byte_level(rng, data)
            mutations.append(name)
        file_name = rng.choice(FILE_NAMES) if rng.random() < 0.2 else f"f{n}.yaml"
        if any(f == file_name for f, _ in files):
            file_name = f"f{n}-{file_name}"
        files.append((file_name, data))
    if rng.random() < 0.03:
        files.append(("subdir.yaml/inner.yaml", b"kind: Component\n"))  # a folder named like a file
        mutations.append("folder-named-yaml")
    return files, mutations


# ----------------------------------------------------------------------------- running one case


class Outcome:
    def __init__(self):
        self.kind = ""  # rejected | ready | component-failed | ...
        self.status = None
        self.output = ""
        self.seconds = 0.0
        self.problems: list = []  # findings


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def write_files(folder: str, files: list) -> list:
    """Writes the case's (name, bytes) files below `folder`: their paths."""
    paths = []
    for name, data in files:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
        paths.append(path)
    return paths


def check_case(args, index: int, files: list, root: str) -> Outcome:
    """`apiary check` on the case's files: exit 0 (accepted) or 1 with an `error:` line
    naming the file; anything else, a crash line or a hang is a finding."""
    outcome = Outcome()
    case_dir = os.path.join(root, f"case-{index}")
    resources = os.path.join(case_dir, "resources")
    os.makedirs(resources)
    paths = write_files(resources, files)
    argv = ["nice", "-n", "19", os.path.join(args.bin, "apiary"), "check", "--resources-path", resources,
            "--app-id", "fuzz"]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              cwd=case_dir, timeout=args.hang_after, preexec_fn=limit_memory)
        outcome.status = done.returncode
        outcome.output = done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as expired:
        outcome.problems.append(("hang", f"apiary check still running after {args.hang_after:.0f} s"))
        outcome.output = (expired.output or b"").decode("utf-8", "replace")
    outcome.seconds = time.monotonic() - started
    status = outcome.status
    marker = fuzzlib.crash_line(outcome.output)
    errors = [line for line in outcome.output.splitlines() if line.startswith("error:")]
    if fuzzlib.is_crash_status(status) or marker:
        outcome.problems.append(("crash", f"{fuzzlib.describe_exit(status)}; {marker or 'no crash line'}"))
    elif status == 0:
        outcome.kind = "files accepted"
    elif status == 1:
        if not errors:
            outcome.kind = "exit 1 without an error line"
            outcome.problems.append(("silent failure", "exit status 1 without an 'error:' line"))
        else:
            outcome.kind = "files rejected"
            if not any(p in errors[0] for p in paths) and resources not in errors[0]:
                outcome.problems.append(("error without the file", errors[0][:300]))
    elif status is not None:
        outcome.kind = fuzzlib.describe_exit(status)
        outcome.problems.append(("exit status", f"unexpected {fuzzlib.describe_exit(status)}"))
    if not args.keep_cases:
        shutil.rmtree(case_dir, ignore_errors=True)
    return outcome


def run_case(args, index: int, files: list, root: str) -> Outcome:
    outcome = Outcome()
    case_dir = os.path.join(root, f"case-{index}")
    resources = os.path.join(case_dir, "resources")
    sockets = os.path.join(case_dir, "sockets")
    os.makedirs(resources)
    os.makedirs(sockets, mode=0o700)
    paths = write_files(resources, files)
    log_path = os.path.join(case_dir, "output.log")
    env = dict(os.environ, FUZZ_REGION="eu", FUZZ_SECRET="s3cret", DAPR_API_TOKEN="", APIARY_API_TOKEN="")
    env.pop("DAPR_HTTP_PORT", None)
    env.pop("DAPR_GRPC_PORT", None)
    argv = ["nice", "-n", "19", os.path.join(args.bin, "apiary"), "run", "--resources-path", resources,
            "--sockets-dir", sockets, "--http-port", "0", "--grpc-port", "0", "--app-id", "fuzz",
            "--component-wait", "200ms", "--discovery-timeout", "200ms", "--rescan-interval", "100ms",
            "--shutdown-grace", "1s", "--log-level", "info"]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=case_dir,
                                env=env, start_new_session=True, preexec_fn=limit_memory)
    terminated = False
    ready_at = None
    try:
        while True:
            status = proc.poll()
            if status is not None:
                break
            now = time.monotonic()
            if ready_at is None:
                with open(log_path, "rb") as log:
                    if READY_MARKER.encode() in log.read():
                        ready_at = now
                if now - started > args.hang_after:
                    outcome.problems.append(("hang", f"neither ended nor ready within {args.hang_after:.0f} s"))
                    proc.send_signal(signal.SIGTERM)
                    terminated = True
                    ready_at = now
            elif not terminated and now - ready_at > 0.5:
                proc.send_signal(signal.SIGTERM)
                terminated = True
                ready_at = now
            elif terminated and now - ready_at > 10:
                outcome.problems.append(("no stop", "still running 10 s after SIGTERM"))
                proc.kill()
                proc.wait()
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    outcome.seconds = time.monotonic() - started
    outcome.status = proc.returncode
    with open(log_path, "rb") as log:
        outcome.output = log.read().decode("utf-8", "replace")
    status = outcome.status
    marker = fuzzlib.crash_line(outcome.output)
    if fuzzlib.is_crash_status(status) or marker:
        outcome.problems.append(("crash", f"{fuzzlib.describe_exit(status)}; {marker or 'no crash line'}"))
    elif status is not None and status < 0 and not terminated:
        outcome.problems.append(("killed", fuzzlib.describe_exit(status)))
    elif status not in (0, 1) and not (terminated and status == -signal.SIGTERM):
        outcome.problems.append(("exit status", f"unexpected {fuzzlib.describe_exit(status)}"))
    errors = [line for line in outcome.output.splitlines() if line.startswith("error:")]
    if terminated:
        outcome.kind = "ready, stopped by SIGTERM" if ready_at else "?"
        if status == -signal.SIGTERM:
            outcome.kind = "ready, killed by SIGTERM (no handler yet)"
    elif status == 1:
        if not errors:
            outcome.kind = "exit 1 without an error line"
            outcome.problems.append(("silent failure", "exit status 1 without an 'error:' line"))
        elif errors[0][len("error: "):].startswith(RUNTIME_ERRORS):
            outcome.kind = "a component failed to start"
        else:
            outcome.kind = "files rejected"
            if not any(p in errors[0] for p in paths) and resources not in errors[0]:
                outcome.problems.append(("error without the file", errors[0][:300]))
    elif status == 0:
        outcome.kind = "exit 0 by itself"
    else:
        outcome.kind = fuzzlib.describe_exit(status)
    if not args.keep_cases:
        shutil.rmtree(case_dir, ignore_errors=True)
    return outcome


# ----------------------------------------------------------------------------- the run


def error_shape(output: str, root: str) -> str:
    """The first error line with paths, numbers and quoted text generalised, for the
    histogram of rejection messages."""
    for line in output.splitlines():
        if line.startswith("error:"):
            line = re.sub(r"/\S*?/case-\d+/resources/.*?(?=, document|: |$)", "<file>", line)
            line = re.sub(r"'[^']*'", "'…'", line)
            line = re.sub(r"\d+", "N", line)
            return line[7:110]
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=fuzzlib.default_bin_dir(), help="folder with apiary")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=["check", "run"], default="check",
                        help="apiary check (default; fast) or apiary run (start-up too: env refs, components)")
    parser.add_argument("--cases", type=int, default=600, help="cases to run (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default %(default)s)")
    parser.add_argument("--case", type=int, help="run only this case")
    parser.add_argument("--hang-after", type=float, default=60.0, help="seconds before a case counts as hung")
    parser.add_argument("--findings", help="folder for the files of findings (default: a new /tmp/fuzz-yaml-findings-*)")
    parser.add_argument("--keep", action="store_true", help="keep every case's folder (files and output)")
    parser.add_argument("--verbose", action="store_true", help="print the histogram of error messages")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.keep_cases = args.keep
    if not os.access(os.path.join(args.bin, "apiary"), os.X_OK):
        print(f"{args.bin}/apiary is missing or not executable (see --bin)", file=sys.stderr)
        return 2
    fuzzlib.lower_priority(19)
    seeds = load_seeds()
    root = tempfile.mkdtemp(prefix="apiary-fuzz-yaml-")
    indices = [args.case] if args.case is not None else list(range(args.cases))
    print(f"fuzz_yaml: apiary {args.mode}, seed {args.seed}, {len(indices)} cases, {args.jobs} at once, {len(seeds)} seed files "
          f"({len(swift_yaml_literals())} from the Swift tests); cases in {root}", flush=True)
    kinds = collections.Counter()
    shapes = collections.Counter()
    findings = []
    lock = threading.Lock()
    done = [0]
    started = time.monotonic()

    def one(index: int):
        files, mutations = make_case(args.seed, index, seeds)
        outcome = (check_case if args.mode == "check" else run_case)(args, index, files, root)
        with lock:
            done[0] += 1
            kinds[outcome.kind] += 1
            shape = error_shape(outcome.output, root)
            if shape:
                shapes[shape] += 1
            for kind, detail in outcome.problems:
                findings.append((kind, index, detail, files, mutations, outcome))
            if done[0] % 100 == 0:
                print(f"  {done[0]} cases, {done[0] / (time.monotonic() - started):.1f}/s, {len(findings)} findings",
                      flush=True)

    interrupted = False
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for future in [pool.submit(one, i) for i in indices]:
                future.result()
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted", flush=True)
    elapsed = time.monotonic() - started
    findings_dir = None
    if findings:
        findings_dir = args.findings or tempfile.mkdtemp(prefix=f"fuzz-yaml-findings-{args.seed}-")
        os.makedirs(findings_dir, exist_ok=True)
        written = collections.Counter()
        for kind, index, detail, files, mutations, outcome in findings:
            written[(kind, detail[:80])] += 1
            if written[(kind, detail[:80])] > 3:
                continue
            folder = os.path.join(findings_dir, f"case-{index}")
            os.makedirs(folder, exist_ok=True)
            for name, data in files:
                path = os.path.join(folder, "resources", name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as out:
                    out.write(data)
            with open(os.path.join(folder, "output.log"), "w", encoding="utf-8") as out:
                out.write(outcome.output)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"fuzz_yaml: apiary {args.mode}: {done[0]} cases tried in {elapsed:.1f} s ({done[0] / max(elapsed, 1e-6):.1f} cases/s, "
          f"{args.jobs} at once), seed {args.seed}")
    print(f"outcomes: {fuzzlib.histogram_line(kinds)}")
    if args.verbose:
        for shape, n in shapes.most_common():
            print(f"  {n:5d}  {shape}")
    else:
        print(f"distinct error messages (generalised): {len(shapes)}; --verbose lists them")
    groups = collections.OrderedDict()
    for finding in findings:
        kind, index, detail = finding[:3]
        general = re.sub(r"/\S*/case-[0-9]+/resources/", "<resources>/", detail)
        signature = f"{kind}: {general[:120]}"
        if kind == "crash":
            signature = f"crash: {detail[:160]}"
        groups.setdefault(signature if kind in ("crash", "exit status", "killed") else kind, []).append(finding)
    print(f"findings: {len(findings)} in {len(groups)} groups")
    for signature, members in groups.items():
        kind, index, detail, files, mutations, outcome = members[0]
        print(f"- {signature}: {len(members)} cases")
        print(f"    e.g. case {index} ({', '.join(mutations) or 'seed'}): {detail[:300]}")
        for name, data in files[:3]:
            print(f"    file {name!r}: {fuzzlib.short(data, 300)}")
        for line in outcome.output.strip().splitlines()[-12:]:
            print(f"    | {line[:200]}")
        print(f"    reproduce: python3 {os.path.relpath(__file__)} --bin {args.bin} --mode {args.mode} --seed {args.seed} "
              f"--case {index} --keep"
              f"   (files: {findings_dir}/case-{index})")
    return 130 if interrupted else (1 if findings else 0)


if __name__ == "__main__":
    sys.exit(main())
