#!/usr/bin/env python3
"""scripts/check_deps.py must fail on what docs/module-deps.txt forbids, not only pass."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "check_deps.py")


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class CheckDeps(unittest.TestCase):
    def tree(self, rules, files):
        root = tempfile.mkdtemp(prefix="tern-deps-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", root]))
        write(root, "docs/module-deps.txt", rules)
        for rel, text in files.items():
            write(root, rel, text)
        return root

    def run_check(self, root):
        p = subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout

    def test_allowed_edges_pass(self):
        root = self.tree("common:\nmime: common\ndns: common\nauthn: common dns/records.h\n", {
            "common/a.h": "#pragma once\n",
            "mime/m.cpp": '#include "common/a.h"\n#include "mime/m.h"\n#include <openssl/evp.h>\n',
            "dns/records.h": '#include "common/a.h"\n',
            "authn/x.cpp": '#include "dns/records.h"\n',
        })
        self.assertEqual(self.run_check(root), (0, "include graph clean: 4 modules\n"))

    def test_forbidden_include_fails_with_its_line(self):
        root = self.tree("common:\nmime: common\n", {
            "common/a.cpp": '#include "common/a.h"\n\n#include "mime/m.h"\n',
            "mime/m.h": "#pragma once\n",
        })
        rc, out = self.run_check(root)
        self.assertEqual(rc, 1)
        self.assertIn("common/a.cpp:3: common may not include mime/m.h", out)

    def test_header_allowance_is_only_that_header(self):
        root = self.tree("common:\ndns: common\nauthn: common dns/records.h\n", {
            "common/a.h": "",
            "dns/dns.h": "", "dns/records.h": "",
            "authn/x.cpp": '#include "dns/dns.h"\n',
            "authn/CMakeLists.txt": "target_link_libraries(tern_authn PUBLIC tern_dns)\n",
        })
        rc, out = self.run_check(root)
        self.assertEqual(rc, 1)
        self.assertIn("authn may not include dns/dns.h", out)
        self.assertIn("authn/CMakeLists.txt:1: authn may not link tern_dns", out)

    def test_unlisted_module_fails(self):
        root = self.tree("common:\n", {"common/a.h": "", "sieve/s.cpp": ""})
        rc, out = self.run_check(root)
        self.assertEqual(rc, 1)
        self.assertIn("sieve/: a module with sources", out)


if __name__ == "__main__":
    unittest.main()
