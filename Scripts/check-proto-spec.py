#!/usr/bin/env python3
"""Check the .proto files under Proto/ against the wire-fact tables of a spec folder.

The spec folder (default: ../shared/spec next to the repository root) holds
markdown files whose tables list the wire facts of the contracts Apiary speaks:
services and their methods, messages and their fields, and enums. This script
compiles every .proto under Proto/ into a descriptor set and compares each fact
with what the descriptors say.

Usage:
    Scripts/check-proto-spec.py [--spec DIR] [--proto DIR] [--verbose]

Exit status: 0 when every checked fact matches (or the spec folder is absent),
1 on any mismatch or when the protos do not compile, 2 on usage/tool errors.

Rules:
  * A service/message/enum whose package does not exist in the descriptor set
    yet is counted as "not yet in Proto/" for its spec file and does not fail.
    Once any file declares that package, every fact of it must match.
  * The `Service/Method` section of layotto-hello.md
    (spec.proto.runtime.v1.Runtime/SayHello) is only checked when the file its
    heading names exists under Proto/.
  * Fields present in our protos but absent from a spec message are mismatches,
    as are extra enum values. Extra RPC methods are mismatches unless the spec
    section says it lists only a subset of the service ("only ...").
  * Short type or message names in a table resolve in the package of the
    section they appear in.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SCALARS = {
    "double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool",
    "string", "bytes", "uint32", "sfixed32", "sfixed64", "sint32", "sint64",
}

STREAMING_KINDS = {"unary", "server", "client", "bidi"}


# --------------------------------------------------------------------------
# Spec model
# --------------------------------------------------------------------------


@dataclass
class FieldRow:
    number: int
    name: str
    type: str
    label: str  # "", "repeated" or "optional"
    oneof: str | None = None


@dataclass
class MessageFact:
    spec_file: str
    full_name: str
    file: str | None
    fields: list[FieldRow] = field(default_factory=list)
    requires_file: str | None = None


@dataclass
class MethodRow:
    name: str
    request: str | None
    response: str | None
    streaming: str | None


@dataclass
class ServiceFact:
    spec_file: str
    full_name: str
    file: str | None
    methods: list[MethodRow] = field(default_factory=list)
    subset: bool = False
    requires_file: str | None = None


@dataclass
class EnumFact:
    spec_file: str
    full_name: str
    values: list[tuple[str, int]]


def package_of(full_name: str) -> str:
    """Package part of a fully-qualified name: the components before the first
    one starting with an upper-case letter (proto naming convention)."""
    parts = full_name.split(".")
    pkg = []
    for part in parts:
        if part[:1].isupper():
            break
        pkg.append(part)
    return ".".join(pkg)


def normalize_type(raw: str, package: str) -> str:
    """Canonical form of a spec type cell: backticks removed, map written as
    `map<K, V>`, short message names qualified with the section's package."""
    m = re.search(r"`([^`]+)`", raw)
    text = (m.group(1) if m else raw).strip()
    text = re.sub(r"\s+", " ", text)

    def qualify(name: str) -> str:
        name = name.strip().lstrip(".")
        if name in SCALARS or "." in name or not package:
            return name
        return f"{package}.{name}"

    mm = re.fullmatch(r"map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>", text)
    if mm:
        return f"map<{qualify(mm.group(1))}, {qualify(mm.group(2))}>"
    return qualify(text)


def split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def is_separator(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c) and any(cells)


ONEOF_RE = re.compile(r"\*?oneof\s+`(\w+)`\s*:\s*([^*]+)\*?")
SERVICE_H = re.compile(r"^##\s+service\s+`([\w.]+)`(?:.*?\(file\s+`([^`]+)`)?")
METHOD_H = re.compile(r"^##\s+.*?`([\w.]+)/(\w+)`(?:.*?\(file\s+`([^`]+)`)?")
MESSAGE_H = re.compile(r"^###\s+message\s+`([\w.]+)`(?:.*?\(file\s+`([^`]+)`)?")
PACKAGE_H = re.compile(r"^###\s+messages of package\s+`([\w.]+)`(?:.*?\(file\s+`([^`]+)`)?")
ENUMS_H = re.compile(r"^##\s+enums\b", re.IGNORECASE)
ENUM_BULLET = re.compile(r"^[-*]\s+`([\w.]+)`\s*:\s*(.+)$")


class SpecParseError(Exception):
    pass


def parse_spec_file(path: Path):
    """Return (services, messages, enums) described by one markdown file."""
    name = path.name
    services: list[ServiceFact] = []
    messages: dict[str, MessageFact] = {}
    enums: list[EnumFact] = []

    # Section state.
    kind = None          # "service" | "method" | "message" | "package" | "enums" | None
    package = ""
    section_file = None
    current_service: ServiceFact | None = None
    current_message: MessageFact | None = None
    method_name = None   # for `Svc/Method` sections
    header: list[str] | None = None
    pending_oneofs: dict[str, str] = {}  # field name -> oneof, for the current message

    def message_for(full: str, file: str | None, requires: str | None) -> MessageFact:
        if full not in messages:
            messages[full] = MessageFact(name, full, file, requires_file=requires)
        return messages[full]

    def finish_method_section():
        # `pkg.Service/Method` section: the method's request/response are the
        # `<Method>Request` / `<Method>Response` messages of its table.
        if kind == "method" and current_service is not None and method_name:
            pkg = package_of(current_service.full_name)
            req = f"{pkg}.{method_name}Request"
            resp = f"{pkg}.{method_name}Response"
            current_service.methods.append(MethodRow(
                method_name,
                req if req in messages else None,
                resp if resp in messages else None,
                None,
            ))

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("#"):
            finish_method_section()
            header = None
            pending_oneofs = {}
            current_message = None
            current_service = None
            method_name = None
            kind = None
            if m := SERVICE_H.match(stripped):
                kind = "service"
                full, section_file = m.group(1), m.group(2)
                package = package_of(full)
                current_service = ServiceFact(name, full, section_file)
                services.append(current_service)
                if re.search(r"\bonly\b", stripped, re.IGNORECASE):
                    current_service.subset = True
            elif m := METHOD_H.match(stripped):
                kind = "method"
                full, method_name, section_file = m.group(1), m.group(2), m.group(3)
                package = package_of(full)
                current_service = ServiceFact(name, full, section_file, subset=True,
                                              requires_file=section_file)
                services.append(current_service)
            elif m := MESSAGE_H.match(stripped):
                kind = "message"
                full, section_file = m.group(1), m.group(2)
                package = package_of(full)
                current_message = message_for(full, section_file, None)
            elif m := PACKAGE_H.match(stripped):
                kind = "package"
                package, section_file = m.group(1), m.group(2)
            elif ENUMS_H.match(stripped):
                kind = "enums"
            continue

        if kind == "service" and current_service and not stripped.startswith("|"):
            if re.search(r"\bonly\b", stripped, re.IGNORECASE):
                current_service.subset = True

        if kind == "enums" and (m := ENUM_BULLET.match(stripped)):
            values = []
            for item in m.group(2).split(","):
                item = item.strip().rstrip(".")
                if not item:
                    continue
                vm = re.fullmatch(r"(\w+)\s*=\s*(-?\d+)", item)
                if not vm:
                    raise SpecParseError(f"{name}:{lineno}: cannot read enum value {item!r}")
                values.append((vm.group(1), int(vm.group(2))))
            enums.append(EnumFact(name, m.group(1), values))
            continue

        if not stripped.startswith("|"):
            continue
        cells = split_row(stripped)
        if is_separator(cells):
            continue
        lowered = [c.lower() for c in cells]
        if header is None:
            header = lowered
            continue
        row = dict(zip(header, cells))

        if kind == "service" and current_service is not None:
            if "method" not in row:
                raise SpecParseError(f"{name}:{lineno}: unexpected table in service section")
            streaming = row.get("streaming", "").strip("` ").lower() or None
            if streaming and streaming not in STREAMING_KINDS:
                raise SpecParseError(f"{name}:{lineno}: unknown streaming kind {streaming!r}")
            current_service.methods.append(MethodRow(
                row["method"].strip("` "),
                normalize_type(row["request"], package) if row.get("request") else None,
                normalize_type(row["response"], package) if row.get("response") else None,
                streaming,
            ))
            continue

        if kind in ("message", "package", "method"):
            # Oneof marker row: `| | *oneof `name`: a, b* | | |`
            joined = " ".join(cells)
            if om := ONEOF_RE.search(joined):
                for fname in om.group(2).split(","):
                    fname = fname.strip()
                    if fname:
                        pending_oneofs[fname] = om.group(1)
                continue
            if "message" in row:  # compact format: message | # | field | type [| label]
                msg_name = row["message"].strip("` ")
                full = msg_name if "." in msg_name else f"{package}.{msg_name}"
                requires = section_file if kind == "method" else None
                target = message_for(full, section_file, requires)
            else:
                target = current_message
            if target is None:
                raise SpecParseError(f"{name}:{lineno}: field row outside a message section")
            try:
                number = int(row["#"].strip("` "))
            except (KeyError, ValueError):
                raise SpecParseError(f"{name}:{lineno}: cannot read field number in {stripped!r}")
            fname = row["field"].strip("` ")
            label = row.get("label", "").strip("` ").lower()
            if label not in ("", "repeated", "optional"):
                raise SpecParseError(f"{name}:{lineno}: unknown label {label!r}")
            target.fields.append(FieldRow(
                number, fname, normalize_type(row["type"], package), label,
                pending_oneofs.get(fname),
            ))
            continue

    finish_method_section()
    return services, list(messages.values()), enums


# --------------------------------------------------------------------------
# Descriptors
# --------------------------------------------------------------------------


def build_descriptor_set(proto_dir: Path):
    try:
        from google.protobuf import descriptor_pb2
    except ImportError:
        print("check-proto-spec: the Python package `protobuf` is missing "
              "(pip install grpcio-tools)", file=sys.stderr)
        sys.exit(2)

    files = sorted(p.relative_to(proto_dir).as_posix() for p in proto_dir.rglob("*.proto"))
    if not files:
        print(f"check-proto-spec: no .proto files under {proto_dir}", file=sys.stderr)
        sys.exit(1)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        protoc = shutil.which("protoc")
        if protoc:
            cmd = [protoc]
            extra_includes: list[str] = []
        else:
            try:
                import grpc_tools  # noqa: F401
                from importlib import resources
            except ImportError:
                print("check-proto-spec: neither `protoc` nor grpc_tools is available "
                      "(apt-get install protobuf-compiler, or pip install grpcio-tools)",
                      file=sys.stderr)
                sys.exit(2)
            cmd = [sys.executable, "-m", "grpc_tools.protoc"]
            extra_includes = [str(resources.files("grpc_tools") / "_proto")]
        cmd += [f"-I{proto_dir}"] + [f"-I{d}" for d in extra_includes]
        cmd += [f"--descriptor_set_out={out}", "--include_imports"] + files
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
            print("spec check: protoc failed; the protos under "
                  f"{proto_dir} do not compile")
            sys.exit(1)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
    return fds


class Index:
    def __init__(self, fds):
        self.messages = {}   # full name -> (DescriptorProto, file name)
        self.enums = {}      # full name -> (EnumDescriptorProto, file name)
        self.services = {}   # full name -> (ServiceDescriptorProto, file name)
        self.packages = set()
        for fd in fds.file:
            self.packages.add(fd.package)
            prefix = f"{fd.package}." if fd.package else ""
            for msg in fd.message_type:
                self._add_message(prefix + msg.name, msg, fd.name)
            for enum in fd.enum_type:
                self.enums[prefix + enum.name] = (enum, fd.name)
            for svc in fd.service:
                self.services[prefix + svc.name] = (svc, fd.name)

    def _add_message(self, full, msg, file_name):
        self.messages[full] = (msg, file_name)
        for nested in msg.nested_type:
            self._add_message(f"{full}.{nested.name}", nested, file_name)
        for enum in msg.enum_type:
            self.enums[f"{full}.{enum.name}"] = (enum, file_name)

    def field_type(self, fld) -> str:
        from google.protobuf import descriptor_pb2 as d
        if fld.type in (d.FieldDescriptorProto.TYPE_MESSAGE, d.FieldDescriptorProto.TYPE_ENUM):
            type_name = fld.type_name.lstrip(".")
            if fld.type == d.FieldDescriptorProto.TYPE_MESSAGE:
                entry = self.messages.get(type_name)
                if (entry and entry[0].options.map_entry
                        and fld.label == d.FieldDescriptorProto.LABEL_REPEATED):
                    key = next(f for f in entry[0].field if f.number == 1)
                    value = next(f for f in entry[0].field if f.number == 2)
                    return f"map<{self.field_type(key)}, {self.field_type(value)}>"
            return type_name
        return d.FieldDescriptorProto.Type.Name(fld.type)[len("TYPE_"):].lower()

    def field_label(self, fld) -> str:
        from google.protobuf import descriptor_pb2 as d
        if fld.label == d.FieldDescriptorProto.LABEL_REPEATED:
            return "" if self.field_type(fld).startswith("map<") else "repeated"
        if fld.proto3_optional:
            return "optional"
        if fld.label == d.FieldDescriptorProto.LABEL_REQUIRED:
            return "required"
        return ""

    @staticmethod
    def field_oneof(msg, fld) -> str | None:
        if fld.HasField("oneof_index") and not fld.proto3_optional:
            return msg.oneof_decl[fld.oneof_index].name
        return None


def streaming_kind(method) -> str:
    if method.client_streaming and method.server_streaming:
        return "bidi"
    if method.client_streaming:
        return "client"
    if method.server_streaming:
        return "server"
    return "unary"


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


class Checker:
    def __init__(self, index: Index, proto_dir: Path):
        self.index = index
        self.proto_dir = proto_dir
        self.checked = 0
        self.mismatches: list[str] = []
        self.pending: dict[str, dict[str, int]] = {}     # spec file -> kind -> count
        self.pending_pkgs: dict[str, set[str]] = {}

    def bad(self, spec_file: str, subject: str, text: str):
        self.mismatches.append(f"MISMATCH {spec_file}: {subject}: {text}")

    def applies(self, spec_file: str, full_name: str, requires_file: str | None, kind: str) -> bool:
        pkg = package_of(full_name)
        if requires_file is not None:
            present = (self.proto_dir / requires_file).is_file()
        else:
            present = pkg in self.index.packages
        if present:
            return True
        counts = self.pending.setdefault(spec_file, {})
        counts[kind] = counts.get(kind, 0) + 1
        self.pending_pkgs.setdefault(spec_file, set()).add(pkg)
        return False

    def check_file(self, spec_file, subject, expected, actual):
        if expected is None:
            return
        self.checked += 1
        if expected != actual:
            self.bad(spec_file, subject, f"defined in {actual}, spec says {expected}")

    def defined(self, kind: str, fact, table: dict, requires_file: str | None, expected_file: str | None):
        """The descriptor Proto/ has for the spec's `kind` ("service", "message" or "enum")
        fact.full_name, checked to be in `expected_file` when the spec names one. None when
        the spec's requirement does not apply to this Proto/ (counted as pending), or when
        Proto/ lacks it (a mismatch)."""
        if not self.applies(fact.spec_file, fact.full_name, requires_file, kind + "s"):
            return None
        self.checked += 1
        entry = table.get(fact.full_name)
        if entry is None:
            self.bad(fact.spec_file, f"{kind} {fact.full_name}", f"{kind} missing")
            return None
        desc, file_name = entry
        self.check_file(fact.spec_file, f"{kind} {fact.full_name}", expected_file, file_name)
        return desc

    def check_service(self, svc: ServiceFact):
        desc = self.defined("service", svc, self.index.services, svc.requires_file, svc.file)
        if desc is None:
            return
        methods = {m.name: m for m in desc.method}
        for row in svc.methods:
            subject = f"service {svc.full_name}, method {row.name}"
            self.checked += 1
            m = methods.get(row.name)
            if m is None:
                self.bad(svc.spec_file, subject, "method missing")
                continue
            req, resp = m.input_type.lstrip("."), m.output_type.lstrip(".")
            if row.request is not None and row.request != req:
                self.bad(svc.spec_file, subject, f"request is {req}, spec says {row.request}")
            if row.response is not None and row.response != resp:
                self.bad(svc.spec_file, subject, f"response is {resp}, spec says {row.response}")
            kind = streaming_kind(m)
            if row.streaming is not None and row.streaming != kind:
                self.bad(svc.spec_file, subject, f"streaming is {kind}, spec says {row.streaming}")
        if not svc.subset:
            listed = {r.name for r in svc.methods}
            for m in desc.method:
                if m.name not in listed:
                    self.checked += 1
                    self.bad(svc.spec_file, f"service {svc.full_name}, method {m.name}",
                             "extra method not in the spec")

    def check_message(self, msg: MessageFact):
        desc = self.defined("message", msg, self.index.messages, msg.requires_file, msg.file)
        if desc is None:
            return
        by_name = {f.name: f for f in desc.field}
        by_number = {f.number: f for f in desc.field}
        matched = set()
        for row in msg.fields:
            subject = f"message {msg.full_name}, field {row.name} (#{row.number})"
            self.checked += 1
            fld = by_name.get(row.name)
            if fld is None:
                other = by_number.get(row.number)
                if other is not None and other.name not in {r.name for r in msg.fields}:
                    self.bad(msg.spec_file, subject,
                             f"field #{row.number} is named {other.name}, spec says {row.name}")
                    fld = other
                else:
                    self.bad(msg.spec_file, subject, "field missing")
                    continue
            matched.add(fld.name)
            if fld.number != row.number:
                self.bad(msg.spec_file, subject,
                         f"number is {fld.number}, spec says {row.number}")
            ftype = self.index.field_type(fld)
            if ftype != row.type:
                self.bad(msg.spec_file, subject, f"type is {ftype}, spec says {row.type}")
            label = self.index.field_label(fld)
            if label != row.label:
                self.bad(msg.spec_file, subject,
                         f"label is {label or '(none)'}, spec says {row.label or '(none)'}")
            oneof = self.index.field_oneof(desc, fld)
            if oneof != row.oneof:
                have = f"oneof {oneof}" if oneof else "not in a oneof"
                want = f"oneof {row.oneof}" if row.oneof else "not in a oneof"
                self.bad(msg.spec_file, subject, f"{have}, spec says {want}")
        for fld in desc.field:
            if fld.name not in matched:
                self.checked += 1
                self.bad(msg.spec_file,
                         f"message {msg.full_name}, field {fld.name} (#{fld.number})",
                         "extra field not in the spec")

    def check_enum(self, enum: EnumFact):
        desc = self.defined("enum", enum, self.index.enums, None, None)
        if desc is None:
            return
        values = {v.name: v.number for v in desc.value}
        for vname, number in enum.values:
            self.checked += 1
            subject = f"enum {enum.full_name}, value {vname}"
            if vname not in values:
                self.bad(enum.spec_file, subject, "value missing")
            elif values[vname] != number:
                self.bad(enum.spec_file, subject, f"number is {values[vname]}, spec says {number}")
        listed = {n for n, _ in enum.values}
        for v in desc.value:
            if v.name not in listed:
                self.checked += 1
                self.bad(enum.spec_file, f"enum {enum.full_name}, value {v.name}",
                         "extra value not in the spec")


# --------------------------------------------------------------------------


def main(argv=None) -> int:
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", type=Path, default=repo.parent / "shared" / "spec",
                    help="folder of spec markdown files (default: ../shared/spec)")
    ap.add_argument("--proto", type=Path, default=repo / "Proto",
                    help="root of the .proto tree (default: Proto/)")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="also list the spec files read")
    args = ap.parse_args(argv)

    spec_dir: Path = args.spec.resolve()
    proto_dir: Path = args.proto.resolve()
    if not spec_dir.is_dir():
        print(f"spec check: skipped (no spec folder at {spec_dir})")
        return 0
    if not proto_dir.is_dir():
        print(f"check-proto-spec: no proto folder at {proto_dir}", file=sys.stderr)
        return 2

    spec_files = sorted(p for p in spec_dir.glob("*.md") if p.name.lower() != "readme.md")
    services, messages, enums = [], [], []
    try:
        for path in spec_files:
            s, m, e = parse_spec_file(path)
            if args.verbose:
                print(f"read {path.name}: {len(s)} services, {len(m)} messages, {len(e)} enums")
            services += s
            messages += m
            enums += e
    except SpecParseError as err:
        print(f"check-proto-spec: cannot parse spec: {err}", file=sys.stderr)
        return 2

    index = Index(build_descriptor_set(proto_dir))
    checker = Checker(index, proto_dir)
    for svc in services:
        checker.check_service(svc)
    for msg in messages:
        checker.check_message(msg)
    for enum in enums:
        checker.check_enum(enum)

    for line in checker.mismatches:
        print(line)
    if proto_dir == repo / "Proto":
        shown_dir = "Proto/"
    elif proto_dir.is_relative_to(repo):
        shown_dir = proto_dir.relative_to(repo).as_posix() + "/"
    else:
        shown_dir = f"{proto_dir}/"
    for spec_file in sorted(checker.pending):
        counts = checker.pending[spec_file]
        parts = [f"{counts[k]} {k}" for k in ("messages", "services", "enums") if counts.get(k)]
        pkgs = ", ".join(sorted(checker.pending_pkgs[spec_file]))
        print(f"{spec_file}: not yet in {shown_dir}: {', '.join(parts)} (packages: {pkgs})")
    print(f"spec check: {checker.checked} facts checked, "
          f"{len(checker.mismatches)} mismatches")
    return 1 if checker.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
