#!/usr/bin/env python3
"""The architecture checks itself: every #include "module/..." and every CMake link to a
tern_<module> library in product code must be allowed by docs/module-deps.txt.

Usage: check_deps.py [SOURCE_DIR]   (exit 0: clean; 1: forbidden edges, listed one per line)
"""
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc", ".c")
# Folders that are not product modules: tests, benchmarks, packaging, build trees.
NOT_MODULES = {"tests", "bench", "build", "debian", "packaging", "docs", "etc", "scripts"}
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([A-Za-z0-9_]+)/([^"]+)"', re.M)
LINK = re.compile(r"\btern_([a-z0-9_]+)\b")


def read_rules(path):
    rules = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            module, sep, allowed = line.partition(":")
            if not sep or not module.strip():
                raise SystemExit(f"{path}:{number}: expected '<module>: <deps>'")
            rules[module.strip()] = set(allowed.split())
    return rules


def allowed(rules, module, target_module, header):
    if target_module == module:
        return True
    deps = rules.get(module, set())
    return target_module in deps or f"{target_module}/{header}" in deps


def product_modules(root):
    found = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if entry.startswith(".") or entry in NOT_MODULES or not os.path.isdir(path):
            continue
        for _, _, files in os.walk(path):
            if any(name.endswith(SOURCE_SUFFIXES) for name in files):
                found.append(entry)
                break
    return found


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    rules = read_rules(os.path.join(root, "docs", "module-deps.txt"))
    modules = product_modules(root)
    errors = []
    for module in modules:
        if module not in rules:
            errors.append(f"{module}/: a module with sources that docs/module-deps.txt does not list")
            continue
        for directory, _, files in os.walk(os.path.join(root, module)):
            for name in sorted(files):
                path = os.path.join(directory, name)
                rel = os.path.relpath(path, root)
                if name.endswith(SOURCE_SUFFIXES):
                    with open(path, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                    for m in INCLUDE.finditer(text):
                        target, header = m.group(1), m.group(2)
                        if target not in rules:
                            continue  # not one of ours (e.g. a system "openssl/..." path)
                        if not allowed(rules, module, target, header):
                            line = text.count("\n", 0, m.start()) + 1
                            errors.append(f"{rel}:{line}: {module} may not include {target}/{header}")
                elif name == "CMakeLists.txt":
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    for m in LINK.finditer(text):
                        target = m.group(1)
                        if target in rules and not allowed(rules, module, target, ""):
                            # A header-only allowance ("dns/records.h") never permits linking.
                            line = text.count("\n", 0, m.start()) + 1
                            errors.append(f"{rel}:{line}: {module} may not link tern_{target}")
    for module in rules:
        if module not in modules:
            errors.append(f"docs/module-deps.txt: '{module}' has no sources (stale rule)")
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} forbidden edge(s); see docs/module-deps.txt", file=sys.stderr)
        return 1
    print(f"include graph clean: {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
