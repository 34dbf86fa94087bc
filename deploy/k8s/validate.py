#!/usr/bin/python3
"""Validates the Kubernetes manifests of deploy/k8s, offline, three ways.

1. yamllint --strict over every YAML file here (config: .yamllint).
2. `kubectl kustomize` of every kustomization here (the base and each
   overlay; Components are checked through the overlays that use them).
3. Every object each one renders, deserialized strictly into the typed
   models of python3-kubernetes: the model comes from the object's
   apiVersion and kind as the client's own API paths pair them, and the
   object is walked with each model's `openapi_types` and `attribute_map`.
   An unknown field, a wrong type (str / int / bool / list / dict, a nested
   model, `dict(str, str)`, `list[V1Container]`, IntOrString) or a missing
   required field fails, naming the kustomization, the object and the
   field's path. An object no model maps fails too.

Then a few checks of this project's own wiring, which no schema knows: the
flags given to nio-server and nio exist (service/server_main.cc,
client/nio_main.cc), every $(VAR) in a command has its env var, the
termination grace period covers preStop plus --drain_timeout_s, an Indexed
Job's shard count matches its completions, and selectors and named ports
point at something.

Prints one line per object checked; exits 1 on any problem (each printed as
`where: field path: what`), 77 when kubectl is absent (ctest: skipped).
`--self-test` feeds known-bad input to each validator and exits 0 only if
every one of them is rejected and a known-good object passes.

Run with Debian's Python: /usr/bin/python3 deploy/k8s/validate.py
"""

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SKIP = 77

try:
    import yaml
except ImportError:  # pragma: no cover - a message instead of a trace
    sys.exit("validate.py: no PyYAML: run deploy/install_deps.sh "
             "(python3-yaml comes with yamllint)")
try:
    import kubernetes.client as k8s
except ImportError:  # pragma: no cover
    sys.exit("validate.py: no python3-kubernetes for this Python "
             f"({sys.executable}): run deploy/install_deps.sh and use "
             "/usr/bin/python3")


# --------------------------------------------------------------------------
# YAML as the API server reads it.


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps: kubectl sends an unquoted date as the
    string it is, so a date in a str field must not fail as a datetime."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text):
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


# --------------------------------------------------------------------------
# apiVersion/kind -> model class, from the client's own API paths.


def _api_model_index():
    """{(group, version, kind): model class name} for every top-level model
    an API call of the client returns ('/apis/apps/v1/...' -> V1Deployment
    is (apps, v1, Deployment)). Core is group ''."""
    index = {}
    api_dir = Path(k8s.__file__).parent / "api"
    call = re.compile(
        r"call_api\(\s*'/(?:api/(v[0-9a-z]+)|apis/([^/']+)/(v[0-9a-z]+))[^']*'"
        r".*?response_type='(\w+)'", re.S)
    for source in api_dir.glob("*_api.py"):
        for core_v, group, group_v, model in call.findall(source.read_text()):
            version = core_v or group_v
            group = group if group_v else ""
            cls = getattr(k8s, model, None)
            types = getattr(cls, "openapi_types", {})
            if "kind" not in types or "api_version" not in types:
                continue
            ver = version[0].upper() + version[1:]
            prefix = (group.split(".")[0].capitalize() if group else "Core")
            for p in (prefix + ver, ver):
                if model.startswith(p):
                    index[(group, version, model[len(p):])] = model
                    break
    return index


# API versions this client predates whose schema is an older version's,
# promoted unchanged: autoscaling/v2 is v2beta2 made GA in Kubernetes 1.23
# (KEP-2702) with the same fields and types. Values (enum strings) are the
# API server's to check either way.
PROMOTED = {("autoscaling", "v2"): "v2beta2"}

# `object` fields that hold free-form JSON. Every other `object` field of
# the client is an IntOrString (ports, targetPort, maxSurge, maxUnavailable,
# minAvailable) and must be an int or a non-empty string.
FREE_FORM = {
    ("V1ControllerRevision", "data"),
    ("V1CustomResourceSubresources", "status"),
    ("V1JSONSchemaProps", "additional_items"),
    ("V1JSONSchemaProps", "additional_properties"),
    ("V1JSONSchemaProps", "default"),
    ("V1JSONSchemaProps", "dependencies"),
    ("V1JSONSchemaProps", "enum"),
    ("V1JSONSchemaProps", "example"),
    ("V1JSONSchemaProps", "items"),
    ("V1ManagedFieldsEntry", "fields_v1"),
    ("V1WatchEvent", "object"),
    ("V1alpha1StorageVersion", "spec"),
}


class ModelIndex:
    def __init__(self):
        self.index = _api_model_index()

    def find(self, api_version, kind):
        """(model class, note) or (None, why not)."""
        group, _, version = api_version.rpartition("/")
        name = self.index.get((group, version, kind))
        note = ""
        if name is None and (group, version) in PROMOTED:
            older = PROMOTED[(group, version)]
            name = self.index.get((group, older, kind))
            if name:
                note = (f"{api_version} is {older} promoted unchanged; "
                        "the client predates it")
        if name is None:
            known = sorted(f"{g + '/' if g else ''}{v}"
                           for g, v, k in self.index if k == kind)
            return None, (f"no model of python3-kubernetes "
                          f"{k8s.__version__} maps {api_version} {kind}"
                          + (f" (it knows {kind} as {', '.join(known)})"
                             if known else ""))
        return getattr(k8s, name), note


# --------------------------------------------------------------------------
# The strict walk.

_CONFIG = k8s.Configuration()
_CONFIG.client_side_validation = True

_PRIMITIVE = {"str": (str,), "int": (int,), "float": (int, float),
              "bool": (bool,), "datetime": (str,), "date": (str,)}
_DICT = re.compile(r"dict\(str, (.+)\)$")


def _type_name(value):
    return {bool: "bool", int: "int", float: "float", str: "str",
            list: "list", dict: "dict"}.get(type(value), type(value).__name__)


class Walker:
    """Builds the typed model of one object, collecting every problem."""

    def __init__(self):
        self.errors = []

    def fail(self, path, message):
        self.errors.append(f"{path}: {message}")

    def value(self, value, type_, path, owner):
        if value is None:  # an explicit null is an unset field to the API
            return None
        if type_.startswith("list["):
            if not isinstance(value, list):
                return self.fail(path, f"expected a list ({type_}), got "
                                       f"{_type_name(value)}")
            return [self.value(v, type_[5:-1], f"{path}[{i}]", owner)
                    for i, v in enumerate(value)]
        match = _DICT.match(type_)
        if match:
            if not isinstance(value, dict):
                return self.fail(path, f"expected a map ({type_}), got "
                                       f"{_type_name(value)}")
            out = {}
            for key, v in value.items():
                if not isinstance(key, str):
                    self.fail(f"{path}.{key}", f"map key must be a string, "
                                               f"got {_type_name(key)}")
                out[key] = self.value(v, match.group(1), f"{path}.{key}",
                                      owner)
            return out
        if type_ == "object":
            if owner in FREE_FORM:
                return value
            if (isinstance(value, int) and not isinstance(value, bool)) or \
                    (isinstance(value, str) and value):
                return value
            return self.fail(path, "expected an IntOrString (an int or a "
                                   f"non-empty string), got "
                                   f"{_type_name(value)} {value!r}")
        if type_ in _PRIMITIVE:
            ok = isinstance(value, _PRIMITIVE[type_]) and not (
                isinstance(value, bool) and type_ != "bool")
            if not ok:
                hint = (" (quote numbers in string maps, e.g. \"1\")"
                        if type_ == "str" and isinstance(value, (int, float))
                        else "")
                return self.fail(path, f"expected {type_}, got "
                                       f"{_type_name(value)} {value!r}{hint}")
            return value
        cls = getattr(k8s, type_, None)
        if cls is None or not hasattr(cls, "openapi_types"):
            return self.fail(path, f"the client has no model {type_}")
        return self.model(value, cls, path)

    def model(self, data, cls, path):
        if not isinstance(data, dict):
            return self.fail(path, f"expected an object ({cls.__name__}), "
                                   f"got {_type_name(data)}")
        by_json = {j: a for a, j in cls.attribute_map.items()}
        before = len(self.errors)
        kwargs = {}
        for key, v in data.items():
            where = f"{path}.{key}" if path else str(key)
            attr = by_json.get(key)
            if attr is None:
                close = difflib.get_close_matches(str(key), list(by_json), 1)
                self.fail(where, f"unknown field ({cls.__name__} has no "
                                 f"'{key}'"
                                 + (f"; did you mean '{close[0]}'?" if close
                                    else "") + ")")
                continue
            kwargs[attr] = self.value(v, cls.openapi_types[attr], where,
                                      (cls.__name__, attr))
        if len(self.errors) > before:
            return None  # a constructor error now would only echo those
        try:
            return cls(local_vars_configuration=_CONFIG, **kwargs)
        except (ValueError, TypeError) as e:  # required fields, formats
            return self.fail(path or "(object)", f"{cls.__name__}: {e}")


def check_object(doc, models):
    """(label, note, [errors]) for one rendered object."""
    if not isinstance(doc, dict):
        return "(not an object)", "", [f"a {_type_name(doc)}, not an object"]
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    name = (doc.get("metadata") or {}).get("name") \
        if isinstance(doc.get("metadata"), dict) else None
    label = f"{api_version} {kind} {name}"
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return label, "", ["apiVersion and kind must be strings"]
    cls, note = models.find(api_version, kind)
    if cls is None:
        return label, "", [note]
    walker = Walker()
    walker.model(doc, cls, "")
    if not name:
        walker.fail("metadata.name", "missing")
    return label, f"{cls.__name__}" + (f", {note}" if note else ""), \
        walker.errors


# --------------------------------------------------------------------------
# This project's wiring.


def _read(path):
    try:
        return (REPO / path).read_text()
    except OSError:
        return None


def known_flags():
    """({server flag}, {nio subcommand}, {nio flag}, drain default) from the
    sources, or None for a part whose source is absent."""
    server = _read("service/server_main.cc")
    cli = _read("client/nio_main.cc")
    server_flags = drain = None
    if server is not None:
        server_flags = set(re.findall(r"ABSL_FLAG\(\s*[\w:]+\s*,\s*(\w+)",
                                      server))
        server_flags |= {"help", "helpfull", "version", "flagfile"}
        m = re.search(r"ABSL_FLAG\(\s*double\s*,\s*drain_timeout_s\s*,\s*"
                      r"([0-9.]+)", server)
        drain = float(m.group(1)) if m else None
    subcommands = cli_flags = None
    if cli is not None:
        subcommands = set(re.findall(r'add_subcommand\(\s*"([\w-]+)"', cli))
        cli_flags = {"help", "version"}
        for names in re.findall(
                r'add_(?:option|flag)\(\s*(?:Names\()?\s*"([^"]+)"', cli):
            for n in names.split(","):
                cli_flags.add(n.strip().lstrip("-").replace("-", "_"))
    return server_flags, subcommands, cli_flags, drain


def _flag_name(token):
    return token.split("=", 1)[0].lstrip("-").replace("-", "_")


def _argvs(pod_spec):
    """(container name, where, argv) of each container and its exec probes
    and hooks."""
    for c in (pod_spec.get("initContainers") or []) + \
            (pod_spec.get("containers") or []):
        yield c, "command+args", list(c.get("command") or []) + \
            list(c.get("args") or [])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            cmd = ((c.get(probe) or {}).get("exec") or {}).get("command")
            if cmd:
                yield c, probe, list(cmd)
        for hook in ("postStart", "preStop"):
            cmd = (((c.get("lifecycle") or {}).get(hook) or {})
                   .get("exec") or {}).get("command")
            if cmd:
                yield c, f"lifecycle.{hook}", list(cmd)


_VAR_REF = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _pod_spec(doc):
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        return spec
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec")


def check_wiring(docs, flags):
    """Problems of the rendered objects taken together."""
    server_flags, subcommands, cli_flags, drain_default = flags
    errors = []
    pods = {}  # (kind, name) -> pod template labels
    for doc in docs:
        kind = doc.get("kind")
        name = (doc.get("metadata") or {}).get("name")
        where = f"{kind} {name}"
        pod = _pod_spec(doc)
        if not isinstance(pod, dict):
            continue
        template = (doc.get("spec") or {}).get("template") or {}
        pods[(kind, name)] = (
            (doc.get("metadata") if kind == "Pod" else
             template.get("metadata") or {}) or {}).get("labels") or {}
        indexed = kind == "Job" and \
            (doc.get("spec") or {}).get("completionMode") == "Indexed"
        for c, part, argv in _argvs(pod):
            at = f"{where}: container {c.get('name')}: {part}"
            env = {e.get("name") for e in c.get("env") or []}
            if indexed:
                env.add("JOB_COMPLETION_INDEX")  # set by the Job controller
            for token in argv:
                for var in _VAR_REF.findall(str(token)):
                    if var not in env:
                        errors.append(f"{at}: $({var}) has no env var: the "
                                      "kubelet would pass it literally")
            tail = [os.path.basename(str(t)) for t in argv]
            for i, program in enumerate(tail):
                if program == "nio-server" and server_flags is not None:
                    for t in argv[i + 1:]:
                        if str(t).startswith("--") and \
                                _flag_name(t) not in server_flags:
                            errors.append(f"{at}: nio-server has no flag "
                                          f"{str(t).split('=')[0]}")
                    break
                if program == "nio" and subcommands is not None:
                    sub = argv[i + 1] if i + 1 < len(argv) else None
                    if sub not in subcommands:
                        errors.append(f"{at}: nio has no subcommand {sub!r}")
                    for t in argv[i + 2:]:
                        if str(t).startswith("--") and \
                                _flag_name(t) not in cli_flags:
                            errors.append(f"{at}: nio has no flag "
                                          f"{str(t).split('=')[0]}")
                    break
        if kind == "Deployment":
            errors += _check_grace(where, pod, drain_default)
        if indexed:
            spec = doc["spec"]
            completions = str(spec.get("completions"))
            for c in pod.get("containers") or []:
                for e in c.get("env") or []:
                    if e.get("name") == "NIO_SHARDS" and \
                            str(e.get("value")) != completions:
                        errors.append(
                            f"{where}: NIO_SHARDS {e.get('value')!r} is not "
                            f"completions {spec.get('completions')}: shards "
                            "would be missed or never finish")
    errors += _check_selectors(docs, pods)
    return errors


def _check_grace(where, pod, drain_default):
    errors = []
    grace = pod.get("terminationGracePeriodSeconds", 30)
    for c in pod.get("containers") or []:
        argv = list(c.get("command") or []) + list(c.get("args") or [])
        if not any(os.path.basename(str(t)) == "nio-server" for t in argv):
            continue
        drain = drain_default
        for i, t in enumerate(argv):
            t = str(t)
            if _flag_name(t) == "drain_timeout_s" and t.startswith("--"):
                value = t.split("=", 1)[1] if "=" in t else \
                    (argv[i + 1] if i + 1 < len(argv) else "")
                try:
                    drain = float(value)
                except ValueError:
                    errors.append(f"{where}: --drain_timeout_s {value!r} "
                                  "is no number")
        sleep = 0.0
        cmd = (((c.get("lifecycle") or {}).get("preStop") or {})
               .get("exec") or {}).get("command") or []
        if len(cmd) == 2 and os.path.basename(str(cmd[0])) == "sleep":
            sleep = float(cmd[1])
        if drain is not None and grace <= sleep + drain:
            errors.append(
                f"{where}: terminationGracePeriodSeconds {grace} <= preStop "
                f"{sleep:g} s + --drain_timeout_s {drain:g} s: the kubelet "
                "would kill the server mid-drain")
    return errors


def _check_selectors(docs, pods):
    errors = []

    def matches(selector):
        return [k for k, labels in pods.items()
                if all(labels.get(a) == b for a, b in selector.items())]

    ports = {}
    for doc in docs:
        pod = _pod_spec(doc)
        if isinstance(pod, dict):
            for c in pod.get("containers") or []:
                for p in c.get("ports") or []:
                    ports.setdefault(p.get("name"), p.get("containerPort"))
    names = {(d.get("kind"), (d.get("metadata") or {}).get("name"))
             for d in docs}
    for doc in docs:
        kind = doc.get("kind")
        where = f"{kind} {(doc.get('metadata') or {}).get('name')}"
        spec = doc.get("spec") or {}
        selector = None
        if kind == "Service":
            selector = spec.get("selector")
            for p in spec.get("ports") or []:
                target = p.get("targetPort")
                if isinstance(target, str) and target not in ports:
                    errors.append(f"{where}: targetPort {target!r} names no "
                                  "container port")
        elif kind in ("PodDisruptionBudget",):
            selector = (spec.get("selector") or {}).get("matchLabels")
        elif kind == "NetworkPolicy":
            selector = (spec.get("podSelector") or {}).get("matchLabels")
            for rule in spec.get("ingress") or []:
                for p in rule.get("ports") or []:
                    if isinstance(p.get("port"), str) and \
                            p["port"] not in ports:
                        errors.append(f"{where}: port {p['port']!r} names no "
                                      "container port")
        elif kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if (ref.get("kind"), ref.get("name")) not in names:
                errors.append(f"{where}: scaleTargetRef {ref.get('kind')} "
                              f"{ref.get('name')} is not in this output")
        if selector and not matches(selector):
            errors.append(f"{where}: selector {selector} matches no pod "
                          "template in this output")
    return errors


# --------------------------------------------------------------------------
# The three tools over the tree.


def run_yamllint(root, config):
    exe = shutil.which("yamllint")
    if exe is None:
        return ["yamllint: not installed: run deploy/install_deps.sh"]
    r = subprocess.run([exe, "--strict", "-f", "parsable", "-c", str(config),
                        str(root)], capture_output=True, text=True)
    if r.returncode == 0:
        return []
    lines = (r.stdout + r.stderr).strip().splitlines()
    return [f"yamllint: {line}" for line in lines] or \
        [f"yamllint: exit {r.returncode}"]


def kustomizations(root):
    """The folders under root with a kustomization that is no Component."""
    found = []
    paths = sorted(root.rglob("kustomization.yaml"),
                   key=lambda p: (p.parent != root, p))
    for path in paths:
        doc = yaml.load(path.read_text(), Loader=_Loader) or {}
        if doc.get("kind", "Kustomization") == "Kustomization":
            found.append(path.parent)
    return found


def render(kubectl, folder):
    r = subprocess.run([kubectl, "kustomize", str(folder)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip() or f"exit {r.returncode}")
    return r.stdout, None


def origins(kubectl, folder, root):
    """{(kind, name): source file} of folder's objects, for messages: the
    folder rendered again through a kustomization that only adds kustomize's
    origin annotations (the validated render stays the plain one)."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        rel = os.path.relpath(folder, tmp)
        Path(tmp, "kustomization.yaml").write_text(
            f"resources:\n  - {rel}\nbuildMetadata: [originAnnotations]\n")
        text, error = render(kubectl, Path(tmp))
        if error:
            return found
        for doc in load_documents(text):
            meta = doc.get("metadata") or {}
            origin = yaml.safe_load(
                (meta.get("annotations") or {})
                .get("config.kubernetes.io/origin", "") or "{}") or {}
            if "path" in origin:
                path = (Path(tmp) / origin["path"]).resolve()
                try:
                    path = path.relative_to(root)
                except ValueError:
                    pass
                found[(doc.get("kind"), meta.get("name"))] = str(path)
    return found


def validate_tree(root, kubectl, models, flags, out=print):
    """Problems found under root (printing one line per object)."""
    problems = run_yamllint(root, HERE / ".yamllint")
    if not problems:
        files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")]
        out(f"yamllint: {len(files)} files clean")
    objects = 0
    shard_counts = {}  # where -> NIO_SHARDS or completions of a Job
    folders = kustomizations(root)
    if not folders:
        problems.append(f"{root}: no kustomization.yaml found")
    for folder in folders:
        rel = folder.relative_to(root).as_posix()
        tag = rel if rel != "." else \
            ("deploy/k8s" if root == HERE else root.name)
        text, error = render(kubectl, folder)
        if error:
            problems.append(f"{tag}: kubectl kustomize failed: {error}")
            continue
        try:
            docs = load_documents(text)
        except yaml.YAMLError as e:
            problems.append(f"{tag}: rendered output is no YAML: {e}")
            continue
        if not docs:
            problems.append(f"{tag}: renders no objects")
        sources = None
        for doc in docs:
            label, note, errors = check_object(doc, models)
            objects += 1
            if errors:
                if sources is None:
                    sources = origins(kubectl, folder, root)
                meta = doc.get("metadata") if isinstance(doc, dict) else {}
                source = sources.get((doc.get("kind"), (meta or {})
                                      .get("name"))) \
                    if isinstance(doc, dict) else None
                if source and Path(root, source).parent != folder:
                    source += f" with {tag}'s patches"
                where = f"{tag}: {label}" + (f" (from {source})"
                                             if source else "")
                problems += [f"{where}: {e}" for e in errors]
                out(f"FAIL {tag}: {label}")
            else:
                out(f"ok   {tag}: {label} ({note})")
        problems += [f"{tag}: {e}" for e in check_wiring(docs, flags)]
        shard_counts.update(_shard_counts(tag, docs))
    if len(set(shard_counts.values())) > 1:
        problems.append("the Jobs disagree on the shard count: " + ", ".join(
            f"{w} {n}" for w, n in sorted(shard_counts.items())))
    return problems, len(folders), objects


def _shard_counts(tag, docs):
    """{where: N} of the shard count each Job states (an Indexed Job's
    completions, any Job's NIO_SHARDS): the shards and the merge must agree
    although they are applied apart."""
    counts = {}
    for doc in docs:
        if doc.get("kind") != "Job":
            continue
        name = f"{tag}: Job {(doc.get('metadata') or {}).get('name')}"
        spec = doc.get("spec") or {}
        if spec.get("completionMode") == "Indexed":
            counts[f"{name} completions"] = str(spec.get("completions"))
        for c in (_pod_spec(doc) or {}).get("containers") or []:
            for e in c.get("env") or []:
                if e.get("name") == "NIO_SHARDS":
                    counts[f"{name} NIO_SHARDS"] = str(e.get("value"))
    return counts


# --------------------------------------------------------------------------
# Self-test: each validator rejects what it should.

_GOOD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  labels: {app: demo}
spec:
  replicas: 2
  selector:
    matchLabels: {app: demo}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: demo}
    spec:
      terminationGracePeriodSeconds: 45
      containers:
        - name: demo
          image: demo:1
          args: ["--listen=0.0.0.0:50051"]
          ports: [{name: grpc, containerPort: 50051}]
          readinessProbe:
            httpGet: {path: /readyz, port: 8080}
          livenessProbe:
            exec: {command: ["true"]}
          resources:
            limits: {cpu: "2", nvidia.com/gpu: "1"}
"""

# (what it breaks, a change to the good Deployment, text the error must have)
_BAD_OBJECTS = [
    ("an unknown field",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
         livenesProbe={"exec": {"command": ["true"]}}),
     "spec.template.spec.containers[0].livenesProbe: unknown field"),
    ("a string for an int",
     lambda d: d["spec"].update(replicas="2"),
     "spec.replicas: expected int, got str"),
    ("a bool for an int",
     lambda d: d["spec"].update(replicas=True),
     "spec.replicas: expected int, got bool"),
    ("an int in a dict(str, str)",
     lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]
     ["limits"].update({"nvidia.com/gpu": 1}),
     "resources.limits.nvidia.com/gpu: expected str, got int"),
    ("a map for a list[V1Container]",
     lambda d: d["spec"]["template"]["spec"].update(
         containers={"name": "demo", "image": "demo:1"}),
     "spec.template.spec.containers: expected a list"),
    ("a string for a nested model",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
         readinessProbe="/readyz"),
     "containers[0].readinessProbe: expected an object (V1Probe)"),
    ("a bool for an IntOrString",
     lambda d: d["spec"]["strategy"]["rollingUpdate"].update(maxSurge=True),
     "rollingUpdate.maxSurge: expected an IntOrString"),
    ("a missing required field",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
     "spec.template.spec.containers[0]: V1Container: Invalid value for "
     "`name`, must not be `None`"),
    ("a field of a newer API (probe.grpc, 1.24)",
     lambda d: d["spec"]["template"]["spec"]["containers"][0]
     ["livenessProbe"].update(grpc={"port": 50051}),
     "livenessProbe.grpc: unknown field"),
    ("a kind no model maps",
     lambda d: d.update(apiVersion="example.com/v1", kind="Widget"),
     "no model of python3-kubernetes"),
    ("a kind under the wrong group",
     lambda d: d.update(apiVersion="v1"),
     "maps v1 Deployment (it knows Deployment as apps/v1)"),
]


def _wiring_cases():
    """(what, docs, text the error must have) for check_wiring."""
    def server(args, grace=45, sleep="5"):
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "s"},
                "spec": {"selector": {"matchLabels": {"a": "s"}},
                         "template": {"metadata": {"labels": {"a": "s"}},
                                      "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "containers": [{
                        "name": "s", "command": ["nio-server"],
                        "args": args,
                        "lifecycle": {"preStop": {"exec": {
                            "command": ["sleep", sleep]}}}}]}}}}
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "j"},
           "spec": {"completionMode": "Indexed", "completions": 3,
                    "template": {"spec": {"containers": [{
                        "name": "j", "args": [
                            "nio", "batch",
                            "--shard=$(JOB_COMPLETION_INDEX)/$(SHARDS)"],
                        "env": [{"name": "NIO_SHARDS", "value": "4"}]}]}}}}
    return [
        ("a server flag that does not exist",
         [server(["--listen_adress=0.0.0.0:50051"])],
         "nio-server has no flag --listen_adress"),
        ("a grace period shorter than preStop + drain",
         [server(["--drain_timeout_s=30"], grace=30)],
         "terminationGracePeriodSeconds 30 <= preStop 5 s + "
         "--drain_timeout_s 30 s"),
        ("a nio flag that does not exist",
         [dict(job, spec=dict(job["spec"], template={"spec": {"containers": [{
             "name": "j", "args": ["nio", "batch", "--shards=0/3"]}]}}))],
         "nio has no flag --shards"),
        ("a $(VAR) without its env var", [job], "$(SHARDS) has no env var"),
        ("a shard count that is not completions", [job],
         "NIO_SHARDS '4' is not completions 3"),
        ("a Service that selects no pod",
         [server([]), {"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": "x"},
                       "spec": {"selector": {"a": "other"}}}],
         "selector {'a': 'other'} matches no pod template"),
    ]


def self_test(kubectl, models, flags):
    failures = []

    def expect(what, errors, needle):
        hit = [e for e in errors if needle in e]
        if hit:
            print(f"ok   rejected {what}: {hit[0]}")
        else:
            failures.append(f"{what}: not rejected as expected ('{needle}'); "
                            f"got {errors or 'no error'}")
            print(f"FAIL {what}")

    good = load_documents(_GOOD_DEPLOYMENT)[0]
    label, note, errors = check_object(good, models)
    if errors:
        failures.append(f"the good Deployment was rejected: {errors}")
    else:
        print(f"ok   accepted a valid Deployment ({note})")
    for what, change, needle in _BAD_OBJECTS:
        doc = load_documents(_GOOD_DEPLOYMENT)[0]
        change(doc)
        expect(what, check_object(doc, models)[2], needle)
    for what, docs, needle in _wiring_cases():
        expect(what, check_wiring(docs, flags), needle)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "dup.yaml").write_text("---\na: 1\na: 2\n")
        expect("a duplicate YAML key (yamllint)",
               run_yamllint(tmp, HERE / ".yamllint"), "key-duplicates")
        (tmp / "dup.yaml").unlink()
        (tmp / "kustomization.yaml").write_text(
            "---\nresources:\n  - missing.yaml\n")
        _, error = render(kubectl, tmp)
        expect("a kustomization naming a missing file (kustomize)",
               [error] if error else [], "missing.yaml")
        # The whole tree pass end to end on a bad overlay.
        (tmp / "kustomization.yaml").write_text(
            "---\nresources:\n  - deployment.yaml\n")
        bad = load_documents(_GOOD_DEPLOYMENT)[0]
        bad["spec"]["replicas"] = "2"
        (tmp / "deployment.yaml").write_text("---\n" + yaml.safe_dump(bad))
        problems, _, _ = validate_tree(tmp, kubectl, models, flags,
                                       out=lambda line: None)
        expect("a bad object in a kustomization (whole pass)", problems,
               "apps/v1 Deployment demo (from deployment.yaml): "
               "spec.replicas: expected int")
        # Shards and merge applied apart, with different shard counts.
        for folder, n in (("shards", "3"), ("merge", "4")):
            (tmp / folder).mkdir()
            (tmp / folder / "kustomization.yaml").write_text(
                "---\nresources:\n  - job.yaml\n")
            job = {"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": folder},
                   "spec": {"template": {"spec": {
                       "restartPolicy": "Never",
                       "containers": [{"name": "j", "image": "j:1", "env": [
                           {"name": "NIO_SHARDS", "value": n}]}]}}}}
            (tmp / folder / "job.yaml").write_text("---\n" +
                                                   yaml.safe_dump(job))
        problems, _, _ = validate_tree(tmp, kubectl, models, flags,
                                       out=lambda line: None)
        expect("shard counts that disagree across kustomizations", problems,
               "the Jobs disagree on the shard count")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--self-test", action="store_true",
                        help="prove that each validator rejects bad input")
    parser.add_argument("--root", type=Path, default=HERE,
                        help="the folder to validate (default: this one)")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("validate.py: SKIP: no kubectl on PATH (it is no Debian 12 "
              "package worth having: install a release kubectl, which has "
              "kustomize)", file=sys.stderr)
        return SKIP
    models = ModelIndex()
    flags = known_flags()
    if args.self_test:
        failures = self_test(kubectl, models, flags)
        for f in failures:
            print(f"validate.py --self-test: {f}", file=sys.stderr)
        print(f"validate.py --self-test: "
              f"{'FAILED' if failures else 'every bad input rejected'}")
        return 1 if failures else 0
    problems, folders, objects = validate_tree(args.root.resolve(), kubectl,
                                               models, flags)
    for p in problems:
        print(f"validate.py: {p}", file=sys.stderr)
    if problems:
        print(f"validate.py: {len(problems)} problems in {folders} "
              f"kustomizations, {objects} objects", file=sys.stderr)
        return 1
    print(f"validate.py: {folders} kustomizations, {objects} objects: "
          f"valid (yamllint, kubectl kustomize, python3-kubernetes "
          f"{k8s.__version__} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
