#!/usr/bin/env python3
"""`apiary conformance` against every sample component, in every language, and against
the independent components written straight from Proto/ with plain grpcio (no SDK).

    python3 Tests/Conformance/conformance_e2e.py --bin .build/debug \
        --file-secrets SamplesComponents/cpp/file-secrets/build/file-secrets

Each component is started on a socket of its own in a temporary folder (redis-store
with a redis-server of its own), checked with `apiary conformance --json`, and passes
when the command exits 0 and its report says the component conforms. A check that was
expected to run (the component declares its feature) but was skipped fails too: each
entry below names the checks that must have passed. Prints `PASS name: N checks` per
component, the failing checks' details, then `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Support", "python"))
from apiarytest import checks, net, paths, procs, redisserver  # noqa: E402

FIXTURES = os.path.join(paths.REPO, "Tests", "Fixtures", "python")


class Suite(checks.Report):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.processes = procs.Processes("apiary-conformance-")
        self.sockets = os.path.join(self.processes.tmp, "sockets")
        os.makedirs(self.sockets, mode=0o700)

    def cleanup(self) -> None:
        for proc in reversed(self.processes.procs):
            proc.stop(grace=3)
        self.processes.remove_folder(keep=self.args.keep)

    def start(self, name: str, argv: list, env: dict | None = None) -> tuple[procs.Proc, str]:
        socket = os.path.join(self.sockets, f"{name}.sock")
        environment = dict(os.environ, APIARY_SOCKETS_DIR=self.sockets, **(env or {}))
        proc = self.processes.spawn(name, argv, env=environment)
        procs.wait_for(lambda: net.socket_answers(socket), 60, f"{name}'s socket {socket}", proc=proc)
        return proc, socket

    def conformance(self, name: str, start, must_pass: list, options: list) -> None:
        """Starts a component with `start()` (→ its Proc and socket) and checks it."""
        started: list = []

        def run():
            proc, socket = start()
            started.append(proc)
            argv = [os.path.join(self.args.bin, "apiary"), "conformance", "--socket", socket, "--json", *options]
            answer = subprocess.run(argv, capture_output=True, text=True, timeout=600)
            try:
                report = json.loads(answer.stdout)
            except ValueError:
                raise checks.CheckFailure(f"exit {answer.returncode}, no JSON report: {answer.stderr.strip()[-800:]}")
            results = {f"{r['block']}/{r['check']}": r for r in report["results"]}
            failing = [f"{key}: {r['detail']}" for key, r in results.items() if r["result"] == "failed"]
            checks.check(not failing, "checks failed:\n  " + "\n  ".join(failing))
            unchecked = [key for key in must_pass if results.get(key, {}).get("result") != "passed"]
            checks.check(not unchecked, f"expected to pass but {[(k, results.get(k, {}).get('result')) for k in unchecked]}")
            checks.check(answer.returncode == 0 and report["conforms"], f"exit {answer.returncode}, conforms {report['conforms']}")
            return (f"{report['passed']} checks passed, {report['skipped']} skipped "
                    f"({', '.join(sorted({r['block'] for r in report['results']}))})")
        self.run_check(name, run, started)

    def run(self) -> None:
        bin_dir = self.args.bin
        # ComponentKit (Swift)
        self.conformance("memstore (Swift, ComponentKit)", lambda: self.start("memstore", [os.path.join(bin_dir, "memstore")]),
                         ["state/etag-mismatch-set", "state/transaction-atomic", "state/query"], [])
        self.conformance("ticker (Swift, ComponentKit)", lambda: self.start("ticker", [os.path.join(bin_dir, "ticker")]), ["bindings/read"],
                         ["--metadata", "intervalMs=100"])
        # apiary_component (Python SDK), with a redis-server of its own
        port = net.free_port()
        redis = self.processes.spawn("redis-server", ["redis-server", "--port", str(port), "--save", "",
                                                      "--appendonly", "no", "--bind", "127.0.0.1"])
        procs.wait_for(lambda: redisserver.ping(port), 20, "redis-server", proc=redis)
        self.conformance("redis-store (Python, apiary_component)", lambda: self.start("redis-store", [sys.executable, paths.REDIS_STORE,
                                                  "--redis-url", f"redis://127.0.0.1:{port}/0"]),
                         ["state/etag-first-write", "state/transaction-order", "state/ttl", "pubsub/ack",
                          "pubsub/nack-redelivery", "pubsub/unanswered-redelivery", "pubsub/ordering",
                          "pubsub/bulk-publish"],
                         ["--ordered", "--metadata", "visibilityTimeoutMs=500"])
        # C++, straight from Proto/
        secrets = os.path.join(self.processes.tmp, "secrets.json")
        with open(secrets, "w") as file:
            json.dump({"db-password": "s3cret", "nested": {"inner": "value"}}, file)
        self.conformance("file-secrets (C++, no SDK)", lambda: self.start("file-secrets", [self.args.file_secrets]),
                         ["secretstores/get", "secretstores/get-missing", "bindings/invoke-unlisted"],
                         ["--metadata", f"secretsFile={secrets}",
                          "--metadata", f"rootPath={os.path.join(self.processes.tmp, 'files')}"])
        # Python with plain grpcio, straight from Proto/ (the Swift tests' fixtures)
        self.conformance("multi_component.py (Python, plain grpcio)", lambda: self.start("multi", [sys.executable, os.path.join(FIXTURES, "multi_component.py"),
                                            "--socket", os.path.join(self.sockets, "multi.sock")]),
                         ["state/etag-mismatch-delete", "state/transaction-atomic", "pubsub/nack-redelivery",
                          "bindings/read", "bindings/invoke-listed", "secretstores/get"],
                         ["--ordered", "--metadata", "secret.api-key=k-123", "--metadata", "interval_ms=50"])
        self.conformance("pubsub_component.py (Python, plain grpcio)", lambda: self.start("pubsub", [sys.executable, os.path.join(FIXTURES, "pubsub_component.py"),
                                             "--socket", os.path.join(self.sockets, "pubsub.sock")]),
                         ["pubsub/publish-pull", "pubsub/ack", "pubsub/bulk-publish"], ["--ordered"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the folder holding apiary, memstore and ticker")
    parser.add_argument("--file-secrets", default=paths.DEFAULT_FILE_SECRETS, help="the C++ sample's executable")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and its logs")
    return checks.run_suite(Suite(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
