#!/usr/bin/env python3
"""Checks that each folder of src/ includes only what its CMake target links.

CMakeLists.txt declares one library per folder, `skiff_library(NAME DIR DEPS...)`.
A file in src/DIR may include headers of src/OTHER only when skiff_OTHER is
among the target's dependencies, directly or through another skiff_ library, so
the declared graph is the real one (a folder cannot quietly reach into another).
Tests (*_test.cc) may also include what their test binary links: test/fakes
(skiff_testing) and any `target_link_libraries(NAME_test ...)`.

Prints one line per include that breaks this and exits 1; prints nothing else.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CMAKE = (ROOT / "CMakeLists.txt").read_text()
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)


def calls(name):
    """The argument lists of every call of the CMake command `name`."""
    for m in re.finditer(r"^\s*" + name + r"\(([^)]*)\)", CMAKE, re.M):
        text = re.sub(r"#[^\n]*", "", m.group(1))
        yield text.split()


libraries = {}  # folder -> its target's direct skiff_ dependencies
targets = {}  # target name -> direct skiff_ dependencies
for args in calls("skiff_library"):
    name, folder, deps = args[0], args[1], args[2:]
    skiff_deps = {d for d in deps if d.startswith("skiff_")}
    libraries[folder] = "skiff_" + name
    targets["skiff_" + name] = skiff_deps
extra_test_deps = {}  # test target -> skiff_ libraries it links besides its own
for args in calls("target_link_libraries"):
    if args[0].endswith("_test"):
        extra_test_deps.setdefault(args[0], set()).update(
            a for a in args[1:] if a.startswith("skiff_"))
executable_deps = {}  # src/cmd is the `skiff` executable
for args in calls("target_link_libraries"):
    if args[0] == "skiff":
        executable_deps["cmd"] = {a for a in args[1:] if a.startswith("skiff_")}


def closure(roots):
    seen, stack = set(), list(roots)
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(targets.get(t, ()))
    return seen


folders = {p.name for p in (ROOT / "src").iterdir() if p.is_dir()}
problems = []
for path in sorted((ROOT / "src").rglob("*")):
    if path.suffix not in (".cc", ".h"):
        continue
    folder = path.relative_to(ROOT / "src").parts[0]
    if folder in libraries:
        own = libraries[folder]
        reach = closure({own})
        if path.name.endswith("_test.cc"):
            test_target = own[len("skiff_"):] + "_test"
            reach |= closure(extra_test_deps.get(test_target, set()) | {"skiff_testing"})
    elif folder in executable_deps:
        reach = closure(executable_deps[folder])
    else:
        continue
    allowed = {f for f, lib in libraries.items() if lib in reach} | {folder}
    if "skiff_testing" in reach:
        allowed.add("fakes")
    for included in INCLUDE.findall(path.read_text()):
        if included in folders or included == "fakes":
            if included not in allowed:
                problems.append(
                    f"check: {path.relative_to(ROOT)} includes {included}/ but its target "
                    f"does not link skiff_{included} (CMakeLists.txt)")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
