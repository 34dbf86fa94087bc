#!/usr/bin/python3
"""Checks what can be checked of the container files without building them
(the CUDA image cannot be built here: no GPU base image is reachable):

- each Containerfile parses: known instructions, continuation lines closed,
  every FROM's build argument declared with a default;
- every COPY source exists in the checkout;
- both images build the same way: deploy/install_deps.sh --build, CMake with
  the tests and benchmarks off, the runtime packages from
  runtime_packages.sh, and the CUDA image leaves CMAKE_CUDA_ARCHITECTURES to
  CMakeLists.txt;
- both run as user 10001, expose 50051 and 8080, listen on 0.0.0.0 and have
  a `nio health` health check.

Exits 1 naming the file, line and problem.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FILES = ["Containerfile", "Containerfile.cuda"]
INSTRUCTIONS = {"FROM", "ARG", "RUN", "COPY", "ADD", "WORKDIR", "ENV", "USER", "EXPOSE",
                "HEALTHCHECK", "ENTRYPOINT", "CMD", "LABEL", "VOLUME", "STOPSIGNAL", "SHELL"}


def parse(path):
    """[(line number, INSTRUCTION, arguments)] of a Containerfile."""
    out, pending, start = [], "", 0
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if pending and line.lstrip().startswith("#"):
                continue
            if not pending:
                start = n
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            text = (pending + line).strip()
            pending = ""
            word, _, args = text.partition(" ")
            out.append((start, word.upper(), args.strip()))
    if pending:
        raise ValueError(f"{path}:{start}: a continued line never ends")
    return out


def check(name, problems):
    path = os.path.join(HERE, name)
    where = os.path.relpath(path, ROOT)
    try:
        steps = parse(path)
    except ValueError as e:
        problems.append(str(e))
        return
    args = {}
    for n, word, rest in steps:
        at = f"{where}:{n}"
        if word not in INSTRUCTIONS:
            problems.append(f"{at}: unknown instruction {word}")
        if word == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        if word == "FROM":
            image = rest.split()[0]
            for ref in re.findall(r"\$\{(\w+)\}", image):
                if not args.get(ref):
                    problems.append(f"{at}: FROM uses ${{{ref}}}, which has no ARG default")
        if word == "COPY" and not rest.startswith("--from="):
            for src in rest.split()[:-1]:
                if not os.path.exists(os.path.join(ROOT, src)):
                    problems.append(f"{at}: COPY {src}: no such file in the checkout")
        if word in ("HEALTHCHECK", "ENTRYPOINT"):
            exec_form = rest[rest.index("["):] if "[" in rest else ""
            try:
                json.loads(exec_form)
            except ValueError:
                problems.append(f"{at}: {word} is not an exec-form JSON list: {rest}")
    text = "\n".join(f"{w} {r}" for _, w, r in steps)
    need = {
        "install_deps.sh --build": "the build stage installs with deploy/install_deps.sh --build",
        "-DNIO_BUILD_TESTS=OFF": "the tests are off",
        "-DNIO_BUILD_BENCH=OFF": "the benchmarks are off",
        "runtime_packages.sh": "the runtime packages come from runtime_packages.sh",
        "USER 10001:10001": "runs as user 10001",
        "EXPOSE 50051 8080": "exposes 50051 and 8080",
        "--listen=0.0.0.0:50051": "the server listens on 0.0.0.0",
        '"nio", "health"': "a `nio health` health check",
    }
    for needle, what in need.items():
        if needle not in text:
            problems.append(f"{where}: expected {what} ({needle!r})")
    if name.endswith(".cuda"):
        if "-DNIO_ENABLE_CUDA=ON" not in text:
            problems.append(f"{where}: the CUDA image must build the CUDA backend")
        if "CMAKE_CUDA_ARCHITECTURES" in text:
            problems.append(f"{where}: leave CMAKE_CUDA_ARCHITECTURES to CMakeLists.txt")
    print(f"{where}: {len(steps)} instructions, {len([s for s in steps if s[1] == 'FROM'])} stages")


def main():
    problems = []
    for name in FILES:
        check(name, problems)
    archs = re.search(r"CMAKE_CUDA_ARCHITECTURES ([\d ]+)\)",
                      open(os.path.join(ROOT, "CMakeLists.txt")).read())
    if archs:
        print(f"CUDA image architectures (CMakeLists.txt): {archs.group(1).strip()}")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
