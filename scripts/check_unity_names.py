#!/usr/bin/env python3
"""Unity batches compile up to eight .cc files of a target as one, so two files
of one target must not define the same name in their anonymous namespaces
(CMakeLists.txt, "Unity batches"). A batch's files change as files are added,
so a clash can hide for months and then break the next build: this finds them
all at once. Targets as CMakeLists.txt makes them: per folder of src/, its
sources and its *_test.cc apart; test/<kind>/*_test.cc; test/ support files."""
import collections
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DECL = re.compile(
    r"^(?:template\s*<[^>]*>\s*)?(?:(?:constexpr|const|static|inline|consteval|constinit)\s+)*"
    r"(?:(?:struct|class|enum\s+class|enum|union)\s+(?P<type>\w+)\b(?!\s*;)"
    r"|using\s+(?P<alias>\w+)\s*="
    r"|[\w:<>,\*&\s]+?[\s\*&](?P<var>\w+)\s*(?:=|\{|\[|;)"
    r"|[\w:<>,\*&\s]+?[\s\*&](?P<func>\w+)\s*\()")


def Target(path):
  parts = path.parts
  if parts[0] == "src" and len(parts) > 2:
    return "src/%s%s" % (parts[1], " tests" if path.name.endswith("_test.cc") else "")
  if parts[0] == "test" and len(parts) > 2:
    return "test/%s%s" % (parts[1], " tests" if path.name.endswith("_test.cc") else "")
  return None  # one file per target (bench/, cmd/)


def AnonymousNames(text):
  """Names declared at the top level of `namespace {` blocks (lines at column
  0, as clang-format leaves them), each with whether it is a function."""
  names = []
  depth_in_anon = None  # brace depth at which the open anonymous namespace began
  depth = 0
  for line in text.splitlines():
    stripped = line.split("//")[0]
    if depth_in_anon is None and re.match(r"^namespace\s*\{", stripped):
      depth_in_anon = depth
    elif depth_in_anon is not None and depth == depth_in_anon + 1 and line[:1].strip():
      m = DECL.match(stripped)
      if m and not stripped.startswith(("}", "#", "TEST", "return", "namespace")):
        name = m.group("type") or m.group("alias") or m.group("var") or m.group("func")
        if name and name != "operator":
          # Overloads may share a name; the same parameters clash.
          if m.group("alias"):
            continue  # the same alias twice is legal, and two types for one name are rare
          key = stripped.strip() if m.group("func") else ""
          names.append((name, re.sub(r"\s+", " ", key.rstrip("{ "))))
    depth += stripped.count("{") - stripped.count("}")
    if depth_in_anon is not None and depth <= depth_in_anon:
      depth_in_anon = None
  return names


def main():
  files = subprocess.run(["git", "ls-files", "*.cc"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
  seen = collections.defaultdict(lambda: collections.defaultdict(set))
  for f in files:
    path = pathlib.Path(f)
    target = Target(path)
    if not target:
      continue
    for name, key in set(AnonymousNames((ROOT / path).read_text(errors="replace"))):
      seen[target][name].add((f, key))
  clashes = 0
  for target, names in sorted(seen.items()):
    for name, where in sorted(names.items()):
      files = sorted({f for f, _ in where})
      keys = {k for _, k in where}
      # Two files, and either not a function or alias, or the same declaration.
      if len(files) > 1 and (keys == {""} or len(keys) < len(where)):
        clashes += 1
        print("check: %s: '%s' is declared in the anonymous namespaces of %s;"
              " give one a name of its own (a unity batch compiles them together)" %
              (target, name, ", ".join(files)))
  return 1 if clashes else 0


if __name__ == "__main__":
  sys.exit(main())
