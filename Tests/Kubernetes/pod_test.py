#!/usr/bin/env python3
"""Apiary's Kubernetes manifests, played with podman: Deploy/kubernetes/ end to end.

    python3 Tests/Kubernetes/pod_test.py [--bin-dir DIR] [--file-secrets PATH] [--rebuild] [--keep]

One command, as root on Debian 12: installs what is missing (podman, buildah, runc with
apt-get; the Dapr Python SDK, PyYAML and redis with pip), writes
/etc/containers/containers.conf for this kind of host (runc, cgroupfs, file events,
ulimits) when it lacks those settings, builds the images with Scripts/build-images.sh
when any is missing, or always with --rebuild (--bin-dir/--file-secrets are passed
on; without them it builds release executables), then:

  1. renders the base and every overlay with `kubectl kustomize` (offline) and checks
     what the manifests promise: non-root, read-only root, no capabilities, resources,
     probes, the actuator port, the sockets folder, the native sidecar; runs each
     component image with DAPR_COMPONENTS_SOCKETS_FOLDER, then APIARY_SOCKETS_DIR too,
     and apiary on a world-writable folder (which it must refuse);
  2. plays the base's Redis and one replica of the app pod with `podman kube play`, and
     drives it from here with the Dapr Python SDK through ports published on 127.0.0.1
     only (state on Redis and in memory, secrets through the env, file and C++ stores,
     secret scopes, the output binding, hello, pub/sub to the app, the API token);
  3. runs `podman healthcheck run` for the liveness probes (apiary's httpGet, Redis's
     tcpSocket), and reads the resident memory of every container;
  4. kill -9s the Python component's process and waits until podman has restarted the
     container and apiary reports its components UP again (readiness and
     /actuator/components), then uses them;
  5. plays a second replica and publishes a batch through both sidecars: every message
     is delivered exactly once, to one replica or the other (competing consumers),
     and none is left pending in Redis.

What podman cannot do is adapted here, and only here (the manifests stay as they are for
Kubernetes): podman 4.3 publishes every containerPort on 0.0.0.0, so each port gets
hostIP 127.0.0.1 and a free hostPort; it has no Services, so the app pods get a
hostAliases entry `redis` -> the Redis pod's IP; it plays one replica of a Deployment,
so the two replicas are two copies of the Deployment (demo-app-a, demo-app-b); it stores
a Secret document in a form its own secretKeyRef cannot read, so the Secret is created
with `podman secret create` from the JSON of its data; it crashes on secret volumes, so
those are mounted from a ConfigMap of the same keys; it names an emptyDir volume after
the manifest's volume name, so two pods would share one `sockets`: each pod's emptyDirs
get the pod's name in front; it ignores readiness and startup probes and schedules no
health checks without systemd, so the test polls readiness itself and runs the health
checks. Native sidecars
(initContainers with restartPolicy Always) do not run under podman 4.3: that overlay is
checked by rendering only.

`podman kube down` runs on every way out (normal end, failure, Ctrl-C, SIGTERM) unless
--keep. Prints one line per check and `N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Support", "python"))
from apiarytest import net, paths  # noqa: E402
from apiarytest.checks import Checks  # noqa: E402
from apiarytest.dapr import close_quietly  # noqa: E402
from apiarytest.net import free_port  # noqa: E402
from apiarytest.procs import wait_for  # noqa: E402

REPO = paths.REPO
KUBE = os.path.join(REPO, "Deploy", "kubernetes")
BASE = os.path.join(KUBE, "base")
OVERLAYS = os.path.join(KUBE, "overlays")
BUILD_IMAGES = os.path.join(REPO, "Scripts", "build-images.sh")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
IMAGES = ["localhost/apiary:dev", "localhost/apiary-memstore:dev", "localhost/apiary-ticker:dev",
          "localhost/apiary-file-secrets:dev", "localhost/apiary-redis-store:dev",
          "localhost/apiary-demo-app:dev", "localhost/apiary-redis:dev"]
UID = 65532
PREFIX = "kt"  # names of what this test plays: kt-redis, kt-demo-app-a, kt-demo-app-b
CONTAINERS_CONF = "/etc/containers/containers.conf"
CONTAINERS_CONF_TEXT = """\
# Written by Apiary's Tests/Kubernetes/pod_test.py for podman 4.3 on Debian 12: runc
# (crun fails on hybrid cgroups), cgroupfs and file events (no systemd), and limits
# on open files and processes for every container.
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
BATCH = 200  # messages of the scale-out round


def log(message: str) -> None:
    print(f"pod_test ({time.strftime('%H:%M:%S')}): {message}", flush=True)


def run(command: list[str], check: bool = True, timeout: float = 300, quiet: bool = False,
        input_text: str | None = None) -> subprocess.CompletedProcess:
    """Runs a command, its output captured; raises with the output when check fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: "
                           f"{(result.stderr or result.stdout).strip()[-2000:]}")
    if not quiet and result.returncode != 0:
        log(f"{' '.join(command[:4])}...: exit {result.returncode}")
    return result


def wait_until(what: str, probe, deadline_s: float, interval: float = 0.25):
    """Polls probe() until it answers something true (an exception counts as false);
    its last answer, or raises naming `what` and the last error."""
    return wait_for(probe, deadline_s, what, interval=interval, tolerate=(Exception,))


def http(method: str, url: str, body: bytes | None = None, token: str | None = None,
         timeout: float = 5) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["dapr-api-token"] = token
    status, _, answer = net.http(method, url, body, headers, timeout)
    return status, answer


# --- set-up: packages, containers.conf, Python packages, images --------------------------

def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"{' '.join(packages)} missing; install them (apt-get install {' '.join(packages)})")
    log(f"apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        run(["apt-get", "update", "-qq"], timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, check=True,
                       capture_output=True, text=True)


def set_up_host() -> None:
    missing = [name for name in ("podman", "buildah", "runc") if not shutil.which(name)]
    if missing:
        apt_install(missing)
    wanted = ['runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', "default_ulimits"]
    current = open(CONTAINERS_CONF).read() if os.path.exists(CONTAINERS_CONF) else ""
    if not all(setting in current for setting in wanted):
        if current:
            shutil.copy(CONTAINERS_CONF, CONTAINERS_CONF + ".before-apiary")
            log(f"{CONTAINERS_CONF} lacks runc/cgroupfs/file events/ulimits; the old one is "
                f"{CONTAINERS_CONF}.before-apiary")
        os.makedirs(os.path.dirname(CONTAINERS_CONF), exist_ok=True)
        with open(CONTAINERS_CONF, "w") as file:
            file.write(CONTAINERS_CONF_TEXT)
        log(f"wrote {CONTAINERS_CONF} (runc, cgroupfs, file events, ulimits)")
    needed = {"dapr": "dapr==1.19.0", "yaml": "pyyaml==6.0.3", "redis": "redis==8.1.0"}
    absent = []
    for module, requirement in needed.items():
        try:
            __import__(module)
        except ImportError:
            absent.append(requirement)
    if absent:
        log(f"pip install {' '.join(absent)}")
        run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *absent], timeout=600)


def ensure_images(arguments) -> None:
    missing = [image for image in IMAGES
               if run(["podman", "image", "exists", image], check=False, quiet=True).returncode != 0]
    if not missing and not arguments.rebuild:
        return
    command = [BUILD_IMAGES]
    if arguments.bin_dir:
        command += ["--bin-dir", arguments.bin_dir]
    if arguments.file_secrets:
        command += ["--file-secrets", arguments.file_secrets]
    log(f"building the images ({', '.join(missing) or 'rebuild'}): {' '.join(command)}")
    subprocess.run(command, check=True, timeout=3600)


# --- checks ---------------------------------------------------------------------------------

def check(condition, message: str) -> None:
    if not condition:
        raise AssertionError(message)


# --- rendering --------------------------------------------------------------------------------

def render(path: str) -> list[dict]:
    import yaml
    result = run([KUBECTL, "kustomize", path], timeout=120)
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [document for document in documents if document.get("kind") == kind]


def deployment(documents: list[dict], name: str) -> dict:
    found = [d for d in by_kind(documents, "Deployment") if d["metadata"]["name"] == name]
    check(found, f"no Deployment {name}")
    return found[0]


def all_containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers") or []) + list(pod_spec.get("containers") or [])


def arguments_of(container: dict) -> dict[str, str]:
    """--flag=value and --flag value arguments as a dict."""
    result = {}
    words = list(container.get("args") or [])
    for index, word in enumerate(words):
        if word.startswith("--"):
            if "=" in word:
                key, value = word.split("=", 1)
                result[key] = value
            elif index + 1 < len(words) and not words[index + 1].startswith("--"):
                result[word] = words[index + 1]
            else:
                result[word] = ""
    return result


def check_pod_spec(name: str, spec: dict) -> list[str]:
    """The promises every pod of the manifests keeps; the problems found."""
    problems = []
    pod_security = spec.get("securityContext") or {}
    for container in all_containers(spec):
        where = f"{name}/{container['name']}"
        security = container.get("securityContext") or {}
        non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
        user = security.get("runAsUser", pod_security.get("runAsUser"))
        if non_root is not True or not user:
            problems.append(f"{where}: not runAsNonRoot with a runAsUser")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root file system not read-only")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: privilege escalation allowed")
        if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities not all dropped")
        resources = container.get("resources") or {}
        if not (resources.get("requests") or {}).get("memory") or not (resources.get("limits") or {}).get("memory"):
            problems.append(f"{where}: no memory request and limit")
        if container.get("imagePullPolicy") != "Never" or not str(container.get("image", "")).startswith("localhost/"):
            problems.append(f"{where}: image not localhost/ with imagePullPolicy Never")
    return problems


def check_apiary_container(container: dict) -> list[str]:
    problems = []
    args = arguments_of(container)
    actuator = args.get("--actuator-port")
    if not actuator:
        problems.append("apiary has no --actuator-port")
    for probe, path in (("livenessProbe", "/actuator/health/liveness"),
                        ("readinessProbe", "/actuator/health/readiness"),
                        ("startupProbe", "/actuator/health/liveness")):
        get = ((container.get(probe) or {}).get("httpGet") or {})
        if get.get("path") != path or str(get.get("port")) != str(actuator):
            problems.append(f"apiary {probe}: {get} is not GET {path} on the actuator port {actuator}")
    if args.get("--sockets-dir") != "/sockets/apiary":
        problems.append(f"apiary --sockets-dir is {args.get('--sockets-dir')}, not /sockets/apiary")
    if "--allow-insecure-sockets-dir" in args:
        problems.append("apiary runs with --allow-insecure-sockets-dir")
    return problems


def check_rendering(checks: Checks) -> dict:
    rendered = {}

    def base():
        documents = render(BASE)
        rendered["base"] = documents
        kinds = collections.Counter(d["kind"] for d in documents)
        for kind, count in (("Deployment", 2), ("Service", 1), ("ConfigMap", 2), ("Secret", 1), ("NetworkPolicy", 2)):
            check(kinds[kind] == count, f"base has {kinds[kind]} {kind}, expected {count}")
        app = deployment(documents, "demo-app")
        spec = app["spec"]["template"]["spec"]
        check(app["spec"]["replicas"] == 2, f"demo-app has {app['spec']['replicas']} replicas, expected 2")
        problems = check_pod_spec("demo-app", spec) + check_pod_spec("redis", deployment(documents, "redis")["spec"]["template"]["spec"])
        names = [c["name"] for c in spec["containers"]]
        check(names == ["app", "apiary", "redis-store", "memstore", "ticker", "file-secrets"], f"containers {names}")
        apiary = spec["containers"][1]
        problems += check_apiary_container(apiary)
        for container in spec["containers"][2:]:
            env = {e["name"]: e.get("value") for e in container.get("env") or []}
            if env.get("APIARY_SOCKETS_DIR") != "/sockets/apiary":
                problems.append(f"{container['name']}: APIARY_SOCKETS_DIR is {env.get('APIARY_SOCKETS_DIR')}")
        for container in spec["containers"][1:]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
            if mounts.get("/sockets") != "sockets":
                problems.append(f"{container['name']}: the sockets emptyDir is not at /sockets")
        volumes = {v["name"]: v for v in spec["volumes"]}
        check("emptyDir" in volumes["sockets"], "the sockets volume is not an emptyDir")
        check(spec["securityContext"]["runAsUser"] == UID, "the pod's uid is not 65532")
        for document in by_kind(documents, "Deployment"):
            for container in all_containers(document["spec"]["template"]["spec"]):
                for port in container.get("ports") or []:
                    if "hostPort" in port or "hostIP" in port:
                        problems.append(f"{container['name']}: hostPort in the base")
        check(not problems, "; ".join(problems))
        return (f"{len(documents)} documents ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
                f"every container non-root, read-only root, ALL capabilities dropped, memory request and "
                f"limit; apiary's three probes on the actuator port")

    checks.run("render/base", base)

    def overlay(name: str, verify):
        def body():
            documents = render(os.path.join(OVERLAYS, name))
            rendered[name] = documents
            problems = []
            for document in by_kind(documents, "Deployment"):
                problems += check_pod_spec(document["metadata"]["name"], document["spec"]["template"]["spec"])
            check(not problems, "; ".join(problems))
            return verify(documents)
        checks.run(f"render/overlays/{name}", body)

    def native(documents):
        spec = deployment(documents, "demo-app")["spec"]["template"]["spec"]
        init = spec.get("initContainers") or []
        apiary = [c for c in init if c["name"] == "apiary"]
        check(apiary, "apiary is not an init container")
        check(apiary[0].get("restartPolicy") == "Always", "apiary's restartPolicy is not Always")
        check(not [c for c in spec["containers"] if c["name"] == "apiary"], "apiary is still a container too")
        problems = check_apiary_container(apiary[0])
        check(not problems, "; ".join(problems))
        return ("apiary is an init container with restartPolicy Always (a native sidecar, Kubernetes >= "
                "1.29), its probes kept; rendered only: podman 4.3 does not run native sidecars")

    def single(documents):
        replicas = deployment(documents, "demo-app")["spec"]["replicas"]
        check(replicas == 1, f"{replicas} replicas")
        return "demo-app with 1 replica"

    overlay("native-sidecar", native)
    overlay("single", single)
    found = sorted(os.listdir(OVERLAYS))
    checks.run("render/overlays-all-checked",
               lambda: check(found == ["native-sidecar", "single"], f"overlays {found}: add a check for each") or
               f"{len(found)} overlays")
    return rendered


# --- podman -----------------------------------------------------------------------------------

class Played:
    """Pods played from files, taken down again by down()."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.files: list[str] = []
        self.secrets: list[str] = []
        self.volumes: set[str] = set()

    def play(self, name: str, documents: list[dict]) -> str:
        import yaml
        path = os.path.join(self.work, f"{name}.yaml")
        with open(path, "w") as file:
            yaml.safe_dump_all(documents, file, sort_keys=False)
        run(["podman", "kube", "down", path], check=False, quiet=True)  # a leftover of an earlier run
        # podman keeps a ConfigMap's volume (named after it) after kube down, with the
        # content of the first play, and names emptyDir volumes after the manifest:
        # leftovers are removed before, and all of them after.
        names = {d["metadata"]["name"] for d in documents if d.get("kind") == "ConfigMap"}
        for document in documents:
            if document.get("kind") == "Deployment":
                names |= {v["name"] for v in document["spec"]["template"]["spec"].get("volumes") or []
                          if "emptyDir" in v}
        names -= self.volumes
        self.remove_volumes(names)
        self.volumes |= names
        self.files.append(path)
        run(["podman", "kube", "play", path], timeout=300)
        return path

    def secret(self, document: dict) -> None:
        """The Secret as a podman secret: podman 4.3 reads a kube Secret's data as the
        JSON of its `data` map (key -> base64), not the Secret document."""
        name = document["metadata"]["name"]
        run(["podman", "secret", "rm", name], check=False, quiet=True)
        path = os.path.join(self.work, f"secret-{name}.json")
        with open(path, "w") as file:
            json.dump(document.get("data") or {}, file)
        run(["podman", "secret", "create", name, path])
        os.unlink(path)
        self.secrets.append(name)

    def down(self) -> None:
        for path in reversed(self.files):
            result = run(["podman", "kube", "down", path], check=False, quiet=True, timeout=120)
            log(f"podman kube down {os.path.basename(path)}: exit {result.returncode}")
        self.files.clear()
        for name in self.secrets:
            run(["podman", "secret", "rm", name], check=False, quiet=True)
        self.secrets.clear()
        self.remove_volumes()

    def remove_volumes(self, names: set[str] | None = None) -> None:
        for name in sorted(self.volumes if names is None else names):
            if run(["podman", "volume", "exists", name], check=False, quiet=True).returncode == 0:
                run(["podman", "volume", "rm", name], check=False, quiet=True)


def pod_containers(pod: str) -> dict[str, dict]:
    """The pod's containers by their manifest name (podman names them <pod>-<name>)."""
    result = run(["podman", "ps", "-a", "--filter", f"pod={pod}", "--format", "json"])
    containers = {}
    for entry in json.loads(result.stdout or "[]"):
        for name in entry.get("Names") or []:
            if name.startswith(pod + "-"):
                containers[name[len(pod) + 1:]] = entry
    return containers


def inspect(container: str) -> dict:
    return json.loads(run(["podman", "inspect", container]).stdout)[0]


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (the peak resident size) of a process, in KiB."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                figures[line.split(":")[0]] = int(line.split()[1])
    return figures.get("VmRSS", 0), figures.get("VmHWM", 0)


def since(entry: dict) -> float:
    """An /actuator/components entry's `since` (ISO 8601, UTC) as a Unix time."""
    import datetime
    return datetime.datetime.fromisoformat(entry["since"].replace("Z", "+00:00")).timestamp()


def secret_as_config_map(secret: dict) -> dict:
    """A ConfigMap with the Secret's decoded values, named <secret>-file: podman 4.3.1
    crashes on secret volumes (VolumeFromSecret dereferences a secrets manager it has
    not made yet), so the test mounts this instead, at the same path."""
    import base64
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": secret["metadata"]["name"] + "-file"},
            "data": {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}}


def for_podman(document: dict, name: str, ports: dict[int, int], redis_ip: str | None) -> dict:
    """A copy of a rendered Deployment as podman 4.3 can play it: renamed, one replica,
    every containerPort published on 127.0.0.1 only (at ports[containerPort], a free
    port), the Service's name as a host alias, secret volumes as ConfigMap volumes."""
    document = json.loads(json.dumps(document))
    document["metadata"]["name"] = name
    document["spec"]["replicas"] = 1
    spec = document["spec"]["template"]["spec"]
    for volume in spec.get("volumes") or []:
        if "secret" in volume:
            source = volume.pop("secret")
            volume["configMap"] = {"name": source["secretName"] + "-file", "items": source.get("items") or []}
    # podman 4.3.1 makes an emptyDir a volume named after the manifest's volume name,
    # so two pods with a volume `sockets` would share one: each pod's emptyDirs get the
    # pod's name in front (the mounts follow).
    renamed = {}
    for volume in spec.get("volumes") or []:
        if "emptyDir" in volume:
            renamed[volume["name"]] = f"{name}-{volume['name']}"
            volume["name"] = renamed[volume["name"]]
    for container in all_containers(spec):
        for mount in container.get("volumeMounts") or []:
            mount["name"] = renamed.get(mount["name"], mount["name"])
    for container in all_containers(spec):
        for port in container.get("ports") or []:
            port["hostIP"] = "127.0.0.1"
            port["hostPort"] = ports[port["containerPort"]]
    if redis_ip:
        spec["hostAliases"] = [{"ip": redis_ip, "hostnames": ["redis"]}]
    return document


class Replica:
    """One played copy of the app pod, with its published ports."""

    def __init__(self, name: str, token: str) -> None:
        self.name = name
        self.pod = f"{name}-pod-0"
        self.token = token
        self.http = free_port()
        self.grpc = free_port()
        self.actuator = free_port()
        self.ports = {3500: self.http, 50001: self.grpc, 9090: self.actuator}
        self._client = None

    def container(self, name: str) -> str:
        return f"{self.pod}-{name}"

    def readiness(self) -> tuple[int, dict]:
        status, body = http("GET", f"http://127.0.0.1:{self.actuator}/actuator/health/readiness", token=self.token)
        return status, json.loads(body or b"{}")

    def components(self) -> dict[str, dict]:
        status, body = http("GET", f"http://127.0.0.1:{self.actuator}/actuator/components", token=self.token)
        check(status == 200, f"/actuator/components answered {status}")
        parsed = json.loads(body)
        entries = parsed.get("components", parsed) if isinstance(parsed, dict) else parsed
        return {entry["name"]: entry for entry in entries}

    def client(self):
        from dapr.clients import DaprClient
        if self._client is None:
            os.environ["DAPR_HTTP_PORT"] = str(self.http)
            os.environ["DAPR_GRPC_PORT"] = str(self.grpc)
            self._client = DaprClient(address=f"127.0.0.1:{self.grpc}")
        return self._client

    def close(self) -> None:
        close_quietly(self._client)
        self._client = None

    def app_messages(self, run_tag: str) -> list[int]:
        """The indices of this run's messages the app printed ("app: message on topic
        orders: {...}")."""
        result = run(["podman", "logs", self.container("app")], check=False, quiet=True)
        indices = []
        for line in (result.stdout + result.stderr).splitlines():
            if not line.startswith("app: message on topic orders: "):
                continue
            try:
                data = json.loads(line.split(": ", 2)[2].split("orders: ", 1)[-1])
            except ValueError:
                continue
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    continue
            if isinstance(data, dict) and data.get("run") == run_tag:
                indices.append(int(data["i"]))
        return indices


COMPONENT_IMAGES = {"memstore": "localhost/apiary-memstore:dev", "ticker": "localhost/apiary-ticker:dev",
                    "file-secrets": "localhost/apiary-file-secrets:dev",
                    "redis-store": "localhost/apiary-redis-store:dev"}


def check_images(checks: Checks, work: str) -> None:
    """What the images promise by themselves, with `podman run` (no network)."""

    def sockets_variables():
        # Each component image run twice at once: with DAPR_COMPONENTS_SOCKETS_FOLDER
        # only, and with APIARY_SOCKETS_DIR as well (which wins), on a host folder.
        runs = []
        for name, image in COMPONENT_IMAGES.items():
            for variables in (("DAPR_COMPONENTS_SOCKETS_FOLDER",), ("APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER")):
                folder = tempfile.mkdtemp(prefix=f"sockets-{name}-", dir=work)
                os.chmod(folder, 0o1777)
                env = []
                for variable in variables:
                    env += ["-e", f"{variable}=/s/{variable.lower()}"]
                container = f"{PREFIX}-image-{name}-{len(variables)}"
                run(["podman", "rm", "-f", container], check=False, quiet=True)
                run(["podman", "run", "-d", "--name", container, "--read-only", "--network", "none",
                     "--cap-drop", "ALL", "-v", f"{folder}:/s", *env, image, "--log-level", "warning"])
                expected = os.path.join(folder, variables[0].lower(), f"{name}.sock")
                runs.append((container, expected))
        try:
            for container, expected in runs:
                wait_until(f"{container} serves {expected}", lambda: os.path.exists(expected), 60, 0.2)
                folder = os.stat(os.path.dirname(expected))
                check(folder.st_uid == UID and folder.st_mode & 0o777 == 0o700,
                      f"{os.path.dirname(expected)}: uid {folder.st_uid} mode {oct(folder.st_mode & 0o777)}")
        finally:
            for container, _ in runs:
                run(["podman", "rm", "-f", "-t", "5", container], check=False, quiet=True)
        return (f"{len(COMPONENT_IMAGES)} component images, as uid {UID} on a read-only root: "
                "DAPR_COMPONENTS_SOCKETS_FOLDER alone names the folder, APIARY_SOCKETS_DIR wins over "
                "it; the folder is created 0700")

    checks.run("images/sockets-variables", sockets_variables)

    def shared_folder_refused():
        # Why the manifests give apiary /sockets/apiary and not the volume itself: an
        # emptyDir is 0777 (owned by root) on Kubernetes.
        answers = []
        for owner, mode in ((0, 0o777), (UID, 0o777), (UID, 0o1777)):
            folder = tempfile.mkdtemp(prefix="shared-", dir=work)
            os.chown(folder, owner, owner)
            os.chmod(folder, mode)
            result = run(["podman", "run", "--rm", "--read-only", "--network", "none", "--cap-drop", "ALL",
                          "-v", f"{folder}:/sockets", "localhost/apiary:dev", "run", "--sockets-dir", "/sockets"],
                         check=False, quiet=True, timeout=60)
            text = (result.stderr + result.stdout).strip()
            check(result.returncode == 1 and "--allow-insecure-sockets-dir" in text,
                  f"apiary on a {oct(mode)} folder of uid {owner}: exit {result.returncode}: {text[-300:]}")
            answers.append(text.splitlines()[-1].split(". Pass")[0])
        return "apiary refuses the shared volume itself: " + " | ".join(answers)

    checks.run("images/apiary-refuses-shared-folder", shared_folder_refused)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", help="Swift executables for Scripts/build-images.sh (else it builds release ones)")
    parser.add_argument("--file-secrets", help="the C++ sample's executable for Scripts/build-images.sh")
    parser.add_argument("--rebuild", action="store_true", help="build the images even when they exist")
    parser.add_argument("--keep", action="store_true", help="leave the pods running (podman kube down yourself)")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        print("pod_test: run as root (podman kube play with runc and cgroupfs, apt-get)", file=sys.stderr)
        return 2

    started = time.monotonic()
    set_up_host()
    ensure_images(arguments)
    checks = Checks(verbose=bool(os.environ.get("POD_TEST_TRACE")), timed=True)
    rendered = check_rendering(checks)
    if "base" not in rendered:
        print(f"{checks.passed} passed, {checks.failed + 1} failed")
        return 1

    work = tempfile.mkdtemp(prefix="apiary-pod-test-")
    played = Played(work)
    replicas: list[Replica] = []

    def tear_down() -> None:
        for replica in replicas:
            replica.close()
        if arguments.keep:
            log(f"--keep: the pods stay; podman kube down {' '.join(played.files)}")
            return
        played.down()
        shutil.rmtree(work, ignore_errors=True)

    atexit.register(tear_down)

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        check_images(checks, work)
        play_and_check(checks, rendered["base"], played, replicas)
    finally:
        tear_down()
        atexit.unregister(tear_down)
        if not arguments.keep:
            leftovers = [pod for pod in run(["podman", "pod", "ps", "--format", "{{.Name}}"], check=False,
                                            quiet=True).stdout.split() if pod.startswith(f"{PREFIX}-")]
            checks.run("podman/kube-down", lambda: check(not leftovers, f"pods left: {leftovers}") or
                       "every pod played was taken down")
    log(f"done in {time.monotonic() - started:.0f} s")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


def play_and_check(checks: Checks, documents: list[dict], played: Played, replicas: list[Replica]) -> None:
    import base64
    secret = by_kind(documents, "Secret")[0]
    token = base64.b64decode(secret["data"]["api-token"]).decode()
    os.environ["DAPR_API_TOKEN"] = token
    os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "15")
    os.environ.setdefault("DAPR_HEALTH_TIMEOUT", "30")
    config_maps = by_kind(documents, "ConfigMap") + [secret_as_config_map(secret)]
    state = {}

    # Redis first: its IP is the app pods' host alias `redis` (podman has no Services).
    def redis():
        port = free_port()
        state["redis_port"] = port
        played.play(f"{PREFIX}-redis", [for_podman(deployment(documents, "redis"), f"{PREFIX}-redis", {6379: port}, None)])
        pod = f"{PREFIX}-redis-pod-0"
        container = f"{pod}-redis"
        info = wait_until("redis running", lambda: (lambda i: i if i["State"]["Running"] else None)(inspect(container)), 60)
        networks = info["NetworkSettings"].get("Networks") or {}
        ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        if not ip:
            infra = json.loads(run(["podman", "pod", "inspect", pod]).stdout)["InfraContainerID"]
            networks = inspect(infra)["NetworkSettings"].get("Networks") or {}
            ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        check(ip, "the Redis pod has no IP")
        state["redis_ip"] = ip
        import redis as redis_client
        client = redis_client.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        wait_until("redis answers PING on its published port", client.ping, 30)
        state["redis"] = client
        return f"pod {pod}, IP {ip}, published on 127.0.0.1:{port} only"

    if not checks.run("play/redis", redis):
        return
    played.secret(secret)

    def play_replica(name: str) -> Replica:
        replica = Replica(f"{PREFIX}-{name}", token)
        replicas.append(replica)
        app = for_podman(deployment(documents, "demo-app"), replica.name, replica.ports, state["redis_ip"])
        played.play(replica.name, [*config_maps, app])
        return replica

    def ready(replica: Replica, deadline: float = 180) -> dict:
        def probe():
            status, body = replica.readiness()
            return body if status == 200 else None
        try:
            return wait_until(f"{replica.pod} ready", probe, deadline, 0.5)
        except TimeoutError as error:
            try:
                status, body = replica.readiness()
                raise TimeoutError(f"{error}; readiness {status}: {json.dumps(body)[:1500]}") from None
            except OSError:
                raise error from None

    def replica_a():
        replica = play_replica("demo-app-a")
        body = ready(replica)
        components = replica.components()
        states = {name: entry.get("state") for name, entry in components.items()}
        check(all(value == "UP" for value in states.values()), f"components not all UP: {states}")
        check(len(states) == 9, f"{len(states)} components: {sorted(states)}")
        state["a"] = replica
        return (f"pod {replica.pod} ready ({body.get('status')}), {len(states)} components UP; API on 127.0.0.1:"
                f"{replica.http} and :{replica.grpc}, actuator on :{replica.actuator}")

    if not checks.run("play/replica-a", replica_a):
        return
    a: Replica = state["a"]

    def users():
        containers = pod_containers(a.pod)
        problems = []
        details = []
        for name in ("app", "apiary", "redis-store", "memstore", "ticker", "file-secrets"):
            info = inspect(a.container(name))
            pid = info["State"]["Pid"]
            uid_line = next(line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:"))
            uids = set(uid_line.split()[1:])
            if uids != {str(UID)}:
                problems.append(f"{name} runs as uid {uids}")
            if not info["HostConfig"].get("ReadonlyRootfs"):
                problems.append(f"{name}: root file system writable")
            caps = info.get("EffectiveCaps") or []
            if caps:
                problems.append(f"{name}: capabilities {caps}")
            details.append(name)
        check(set(containers) >= set(details), f"containers {sorted(containers)}")
        check(not problems, "; ".join(problems))
        return f"{len(details)} containers run as uid {UID} (no other uid), read-only root, no capabilities"

    checks.run("pod/non-root-read-only", users)

    def sockets_folder():
        info = inspect(a.container("apiary"))
        mount = next(m for m in info["Mounts"] if m["Destination"] == "/sockets")
        source = mount["Source"]
        volume = os.stat(source)
        folder = os.stat(os.path.join(source, "apiary"))
        sockets = sorted(os.listdir(os.path.join(source, "apiary")))
        check(oct(volume.st_mode & 0o7777) == "0o1777", f"the emptyDir is {oct(volume.st_mode & 0o7777)}, not 1777")
        check(oct(folder.st_mode & 0o7777) == "0o700" and folder.st_uid == UID,
              f"/sockets/apiary is {oct(folder.st_mode & 0o7777)} uid {folder.st_uid}")
        check(sockets == ["file-secrets.sock", "memstore.sock", "redis-store.sock", "ticker.sock"], f"sockets {sockets}")
        return f"emptyDir 1777 (from the image), /sockets/apiary 0700 uid {UID}, sockets {', '.join(sockets)}"

    checks.run("pod/sockets-folder", sockets_folder)

    run_tag = uuid.uuid4().hex[:8]

    def sdk_state():
        client = a.client()
        key = f"order-{run_tag}"
        client.save_state("statestore", key, json.dumps({"qty": 2}))
        got = client.get_state("statestore", key)
        check(json.loads(got.data) == {"qty": 2}, f"statestore answered {got.data!r}")
        check(got.etag == "1", f"etag {got.etag!r}, expected 1 (the key's first write)")
        client.save_state("statestore", key, json.dumps({"qty": 3}), etag="1")
        try:
            client.save_state("statestore", key, json.dumps({"qty": 4}), etag="1")
            raise AssertionError("a stale etag was accepted")
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - the SDK's error type
            check("etag" in str(error).lower() or "ABORTED" in str(error) or "FAILED_PRECONDITION" in str(error),
                  f"a stale etag failed with {error}")
        client.save_state("cache", key, "in memory")
        check(client.get_state("cache", key).data == b"in memory", "memstore lost the value")
        return "Redis state (redis-store): save, get with etag 1, etag conflict refused; memstore: save, get"

    checks.run("sdk/state", sdk_state)

    def sdk_secrets():
        client = a.client()
        env_secret = client.get_secret("env-secrets", "DB_PASSWORD").secret
        check(env_secret == {"DB_PASSWORD": "s3cret"}, f"env-secrets answered {env_secret}")
        file_secret = client.get_secret("file-secrets", "api:key").secret
        check(file_secret == {"api:key": "k1"}, f"file-secrets answered {file_secret}")
        cpp_secret = client.get_secret("secretstore", "db-password").secret
        check(cpp_secret == {"db-password": "s3cret"}, f"secretstore (C++) answered {cpp_secret}")
        try:
            client.get_secret("file-secrets", "api-token")
            raise AssertionError("the Configuration's deniedSecrets did not refuse api-token")
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001
            check("PERMISSION_DENIED" in str(error) or "not allowed" in str(error).lower(),
                  f"a denied secret failed with {error}")
        return ("the Kubernetes Secret through secretstores.local.env (APP_SECRET_DB_PASSWORD), "
                "secretstores.local.file and the C++ file-secrets (the mounted secrets.json); "
                "the Configuration's scope refuses a denied key")

    checks.run("sdk/secrets", sdk_secrets)

    def sdk_binding_hello_token():
        client = a.client()
        name = f"note-{run_tag}.txt"
        client.invoke_binding("files", "create", data="hello from the pod test", binding_metadata={"fileName": name})
        listing = client.invoke_binding("files", "list").data.decode()
        check(name in listing, f"the binding's list does not show {name}: {listing[:300]}")
        status, body = http("POST", f"http://127.0.0.1:{a.http}/v1.0/hello/greeter", json.dumps({"name": "Ada"}).encode(),
                            token=token)
        check(status == 200 and b"Hello, Ada" in body, f"hello answered {status} {body[:200]!r}")
        status, _ = http("GET", f"http://127.0.0.1:{a.http}/v1.0/state/statestore/order-{run_tag}")
        check(status == 401, f"a call without the API token answered {status}, expected 401")
        status, _ = http("GET", f"http://127.0.0.1:{a.actuator}/actuator/health/liveness")
        check(status == 200, f"liveness without the token answered {status}")
        return "output binding (C++): create and list; hello (Swift): 'Hello, Ada'; no token: 401, probes open"

    checks.run("sdk/binding-hello-token", sdk_binding_hello_token)

    def sdk_publish():
        client = a.client()
        client.publish_event("pubsub", "orders", json.dumps({"run": run_tag, "i": -1}),
                             data_content_type="application/json")
        wait_until("the app prints the message", lambda: -1 in a.app_messages(run_tag), 60)
        return "published through the sidecar, delivered to the app (its log shows it)"

    checks.run("sdk/publish-to-app", sdk_publish)

    def healthchecks():
        results = []
        for container in (a.container("apiary"), f"{PREFIX}-redis-pod-0-redis"):
            result = run(["podman", "healthcheck", "run", container], check=False, quiet=True)
            output = (result.stdout + result.stderr).strip().replace("\n", " | ")
            check(result.returncode == 0, f"podman healthcheck run {container}: exit {result.returncode}: {output}")
            results.append(f"{container}: {output or 'healthy'}")
        return "; ".join(results)

    checks.run("podman/healthcheck-liveness", healthchecks)

    def limits_of(name: str) -> dict[str, tuple[str, str]]:
        """Each container's memory request and limit in the manifests."""
        result = {}
        for container in all_containers(deployment(documents, name)["spec"]["template"]["spec"]):
            resources = container.get("resources") or {}
            result[container["name"]] = (resources["requests"]["memory"], resources["limits"]["memory"])
        return result

    def mebibytes(quantity: str) -> float:
        number, unit = re.fullmatch(r"([0-9.]+)([KMG]i)?", quantity).groups()
        return float(number) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, None: 1 / 1048576}[unit]

    manifest = {**limits_of("demo-app"), **limits_of("redis")}

    def memory(replica: Replica, when: str):
        def body():
            figures = {}
            for name in ("app", "apiary", "redis-store", "memstore", "ticker", "file-secrets"):
                figures[name] = memory_kib(inspect(replica.container(name))["State"]["Pid"])
            figures["redis"] = memory_kib(inspect(f"{PREFIX}-redis-pod-0-redis")["State"]["Pid"])
            over = [f"{name} peak {peak / 1024:.1f} MiB >= its limit {manifest[name][1]}"
                    for name, (_, peak) in figures.items() if peak / 1024 >= mebibytes(manifest[name][1])]
            check(not over, "; ".join(over))
            above_request = [f"{name} {rss / 1024:.1f} MiB > request {manifest[name][0]}"
                             for name, (rss, _) in figures.items() if rss / 1024 > mebibytes(manifest[name][0])]
            status, text = http("GET", f"http://127.0.0.1:{replica.actuator}/metrics")
            match = re.search(rb"^process_resident_memory_bytes\s+([0-9.e+]+)", text, re.M)
            check(status == 200 and match, f"/metrics answered {status} without process_resident_memory_bytes")
            return (f"{when}: " + ", ".join(f"{name} {rss / 1024:.1f} MiB (peak {peak / 1024:.1f})"
                                            for name, (rss, peak) in figures.items())
                    + f"; VmRSS and VmHWM of each container's process; apiary's /metrics says "
                    f"{float(match.group(1)) / 1048576:.1f} MiB; every peak below its limit; "
                    + (f"above the request: {', '.join(above_request)}" if above_request
                       else "every one within its request"))
        return body

    checks.run("pod/resident-memory", memory(a, "replica A after start-up and the SDK checks"))

    def kill_component():
        container = a.container("redis-store")
        before = inspect(container)
        pid, restarts = before["State"]["Pid"], before.get("RestartCount", 0)
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)

        def restarted():
            info = inspect(container)
            return info if info["State"]["Running"] and info["State"]["Pid"] not in (0, pid) else None
        info = wait_until("podman restarts the container", restarted, 60)

        def up_again():
            components = a.components()
            entries = [components["statestore"], components["pubsub"]]
            # UP, and UP since after the kill: apiary saw the process go and initialised
            # its components again in the new one.
            if any(entry.get("state") != "UP" or since(entry) <= killed_at for entry in entries):
                return None
            status, _ = a.readiness()
            return components if status == 200 else None
        components = wait_until("statestore and pubsub UP again, readiness 200", up_again, 90, 0.5)
        value = a.client().get_state("statestore", f"order-{run_tag}").data
        check(json.loads(value) == {"qty": 3}, f"after the restart statestore answered {value!r}")
        a.client().publish_event("pubsub", "orders", json.dumps({"run": run_tag, "i": -2}),
                                 data_content_type="application/json")
        wait_until("the app gets a message after the restart", lambda: -2 in a.app_messages(run_tag), 60)
        return (f"kill -9 of pid {pid}: podman restarted the container (restart count {restarts} -> "
                f"{info.get('RestartCount')}, pid {info['State']['Pid']}) and apiary had statestore and pubsub "
                f"UP again {time.time() - killed_at:.1f} s after the kill; the Redis data and pub/sub work")

    checks.run("pod/kill-9-component", kill_component)

    stream = "redis-store:{pubsub}:topic:orders"

    def subscribed_as(replica: Replica) -> list[str]:
        """The consumers the replica's redis-store says it subscribed to orders as (its
        log records, read through apiary's /actuator/logs). Redis 7.0 lists a consumer
        in XINFO CONSUMERS only once it has been given a message, so it cannot tell."""
        status, body = http("GET", f"http://127.0.0.1:{replica.actuator}/actuator/logs?component=redis-store&limit=1000",
                            token=token)
        check(status == 200, f"/actuator/logs answered {status}")
        return [record.get("fields", {}).get("consumer", "") for record in json.loads(body).get("records", [])
                if str(record.get("msg", "")).startswith("subscribed to orders as ")]

    def scale_out():
        b = play_replica("demo-app-b")
        ready(b)
        # Each replica's own redis-store reads as consumer <its pod's hostname>-<pid>-...:
        # both must have subscribed before the batch, or the first takes everything.
        hosts = {replica.name: inspect(replica.container("redis-store"))["Config"]["Hostname"] for replica in (a, b)}
        check(hosts[a.name] != hosts[b.name], f"both replicas have hostname {hosts[a.name]}")
        wait_until("each replica's redis-store subscribed to orders",
                   lambda: all(any(c.startswith(hosts[r.name] + "-") for c in subscribed_as(r)) for r in (a, b)),
                   60, 0.25)
        wanted = set(range(BATCH))
        for index in range(BATCH):
            (a if index % 2 == 0 else b).client().publish_event(
                "pubsub", "orders", json.dumps({"run": run_tag, "i": index}), data_content_type="application/json")

        def all_delivered():
            got = a.app_messages(run_tag) + b.app_messages(run_tag)
            return got if wanted <= set(got) else None
        wait_until(f"all {BATCH} messages delivered", all_delivered, 120, 0.5)

        def nothing_pending():
            summary = state["redis"].xpending(stream, "demo-app")
            return summary if summary["pending"] == 0 else None
        wait_until("no message pending in Redis (every delivery acknowledged)", nothing_pending, 60, 0.5)
        got_a = [i for i in a.app_messages(run_tag) if i >= 0]
        got_b = [i for i in b.app_messages(run_tag) if i >= 0]
        counts = collections.Counter(got_a + got_b)
        duplicated = sorted(i for i, n in counts.items() if n > 1)
        check(set(counts) == wanted, f"missing {sorted(wanted - set(counts))[:20]}")
        check(not duplicated, f"{len(duplicated)} delivered more than once: {duplicated[:20]}")
        check(got_a and got_b, f"one replica got everything: A {len(got_a)}, B {len(got_b)}")
        # Two consumer processes, one per pod, did the work (no shared sockets volume).
        readers = {entry["name"].decode() for entry in state["redis"].xinfo_consumers(stream, "demo-app")}
        for replica in (a, b):
            check(any(name.startswith(hosts[replica.name] + "-") for name in readers),
                  f"no consumer of {replica.pod} in the group: {sorted(readers)}")
        return (f"{BATCH} messages published through both sidecars: each delivered exactly once "
                f"(replica A {len(got_a)}, replica B {len(got_b)}), each replica's own redis-store a consumer "
                f"of group demo-app, nothing pending")

    if checks.run("scale-out/competing-consumers", scale_out):
        checks.run("pod/resident-memory-after-load",
                   memory(a, f"replica A after {BATCH // 2} publishes and its share of {BATCH} deliveries"))


if __name__ == "__main__":
    sys.exit(main())
