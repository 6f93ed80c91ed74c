"""Installing Tern as a service: `cmake --install` and the Debian package.

- `cmake --install` with DESTDIR puts ternd in sbin, ternctl in bin, the commented sample as
  etc/tern/ternd.toml, the manual pages, and a systemd unit that `systemd-analyze verify`
  accepts; the manual page of the configuration lists every key of the README.
- `dpkg-buildpackage -b` builds tern_*.deb from this tree; `dpkg -i` creates the `tern` user,
  a self-signed certificate and /var/lib/tern; the installed ternd runs with the installed
  configuration plus a test override and serves mail over SMTP and IMAPS; a local change to
  /etc/tern/ternd.toml survives reinstalling the package. Needs root (CI runs as root); the
  package is purged afterwards.
"""
import glob
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from ternlib import Tern, client_tls_context

SOURCE = os.environ.get("TERN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TERN_BUILD_DIR", "")


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, **kw)


def dpkg(*args):
    """dpkg, waiting (up to 5 minutes) while another package operation holds its lock."""
    deadline = time.monotonic() + 300
    while True:
        p = run(["dpkg", *args])
        if "lock" not in p.stderr or time.monotonic() > deadline:
            return p
        time.sleep(2)


def cache_value(build, key):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(rf"^{key}:[A-Z]+=(.*)$", line.strip())
            if m:
                return m.group(1)
    return None


class CmakeInstall(unittest.TestCase):
    def test_layout_unit_and_manual_pages(self):
        self.assertTrue(BUILD, "TERN_BUILD_DIR not set")
        prefix = cache_value(BUILD, "CMAKE_INSTALL_PREFIX")
        dest = tempfile.mkdtemp(prefix="tern-install-")
        try:
            p = run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": dest})
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            root = dest + prefix
            etc = dest + ("/etc" if prefix == "/usr" else prefix + "/etc")
            for path in (f"{root}/sbin/ternd", f"{root}/bin/ternctl"):
                self.assertTrue(os.access(path, os.X_OK), path)
            conf = f"{etc}/tern/ternd.toml"
            with open(conf) as f, open(os.path.join(SOURCE, "etc", "ternd.toml")) as g:
                self.assertEqual(f.read(), g.read())
            for page in ("man8/ternd.8", "man8/ternctl.8", "man5/ternd.toml.5"):
                path = f"{root}/share/man/{page}"
                self.assertTrue(os.path.exists(path), path)
                # groff warnings (-ww) are errors here: a broken request shows as one.
                p = run(["groff", "-man", "-Tutf8", "-ww", "-z", path])
                self.assertEqual((p.returncode, p.stderr), (0, ""), path)
            units = glob.glob(f"{dest}/**/ternd.service", recursive=True)
            self.assertEqual(len(units), 1, units)
            with open(units[0]) as f:
                unit = f.read()
            self.assertIn("Type=notify", unit)
            self.assertIn(f"ExecStart={prefix}/sbin/ternd -c {etc[len(dest):]}/tern/ternd.toml",
                          unit)
            self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
            for line in ("NoNewPrivileges=yes", "ProtectSystem=strict",
                         "ReadWritePaths=/var/lib/tern", "PrivateTmp=yes",
                         "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"):
                self.assertIn(line + "\n", unit)
            # systemd-analyze checks every directive and that the binaries exist: on a copy
            # whose paths point into DESTDIR (the manual pages are linted with groff above).
            checked = os.path.join(dest, "ternd.service")
            with open(checked, "w") as f:
                f.write(unit.replace(f"{prefix}/sbin/ternd", f"{root}/sbin/ternd"))
            p = run(["systemd-analyze", "verify", "--man=no", checked])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stderr.strip(), "", p.stderr)
            # The installed ternd checks the installed configuration's syntax (its certificate
            # does not exist outside the package, which --check reports in one line).
            p = run([f"{root}/sbin/ternd", "--check", "-c", conf])
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn("tls.cert", p.stderr)
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def test_config_manual_page_is_up_to_date_with_the_readme(self):
        p = run(["/usr/bin/python3", os.path.join(SOURCE, "scripts", "gen_man_config.py"),
                 "--check"])
        self.assertEqual(p.returncode, 0, p.stderr)


@unittest.skipUnless(os.geteuid() == 0, "installs a package: needs root")
@unittest.skipUnless(shutil.which("dpkg-buildpackage"), "dpkg-dev is not installed")
class DebianPackage(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="tern-deb-")
        os.chmod(self.work, 0o755)  # the tern user reaches the test's data_dir below it

    def tearDown(self):
        dpkg("--purge", "tern")
        shutil.rmtree(self.work, ignore_errors=True)

    def build_package(self):
        # TERN_DEB: a package already built from this tree (to iterate on the install steps).
        if os.environ.get("TERN_DEB"):
            return os.environ["TERN_DEB"]
        src = os.path.join(self.work, "tern")
        shutil.copytree(SOURCE, src, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", "build", "var", "__pycache__"))
        # noopt: what is tested here is the packaging (debian/rules honours it, Debian Policy
        # §4.9.1); an unoptimised build halves this test, CI's longest.
        env = {**os.environ,
               "DEB_BUILD_OPTIONS": f"nocheck noopt parallel={os.cpu_count() or 2}"}
        p = run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=src, env=env, timeout=2400)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-4000:])
        debs = glob.glob(os.path.join(self.work, "tern_*.deb"))
        self.assertEqual(len(debs), 1, os.listdir(self.work))
        return debs[0]

    def test_build_install_run_and_keep_config_on_upgrade(self):
        deb = self.build_package()
        p = dpkg("-i", deb)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # The user, the data directory, the certificate, the files.
        self.assertEqual(run(["id", "-u", "tern"]).returncode, 0)
        self.assertTrue(os.path.isdir("/var/lib/tern"))
        for path in ("/usr/sbin/ternd", "/usr/bin/ternctl", "/etc/tern/ternd.toml",
                     "/etc/tern/tls/fullchain.pem", "/etc/tern/tls/privkey.pem",
                     "/lib/systemd/system/ternd.service"):
            self.assertTrue(os.path.exists(path), path)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "tern"]).stdout
        self.assertIn("/etc/tern/ternd.toml", conffiles)
        p = run(["systemd-analyze", "verify", "--man=no", "/lib/systemd/system/ternd.service"])
        self.assertEqual((p.returncode, p.stderr.strip()), (0, ""), p.stdout + p.stderr)
        # The installed configuration as shipped is usable with the generated certificate.
        p = run(["/usr/sbin/ternd", "--check", "-c", "/etc/tern/ternd.toml"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # Installed ternd + installed config + a test override (loopback ports, a test
        # data_dir, the packaged certificate); started as root it becomes `tern`.
        with Tern(tls=False, base_configs=["/etc/tern/ternd.toml"], ternd="/usr/sbin/ternd",
                  ternctl="/usr/bin/ternctl") as t:
            os.chmod(t.dir, 0o755)
            for args, pw in ((("domain", "add", "example.test"), None),
                             (("user", "add", "ann@example.test"), "pw-ann-123456\n")):
                p = t.ctl(*args, input=pw)
                self.assertEqual(p.returncode, 0, p.stderr)
            t.start()
            self.assertIn("running as user=tern", t.log())
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30) as s:
                s.sendmail("someone@remote.example", ["ann@example.test"],
                           b"Subject: packaged\r\n\r\nhello from the package test\r\n")
            c = imaplib.IMAP4_SSL("127.0.0.1", t.port("imaps"), ssl_context=client_tls_context(),
                                  timeout=30)
            c.login("ann@example.test", "pw-ann-123456")
            typ, data = c.select("INBOX")
            self.assertEqual((typ, data[0]), ("OK", b"1"))
            typ, data = c.fetch("1", "(BODY.PEEK[])")
            self.assertIn(b"hello from the package test", data[0][1])
            c.logout()
            self.assertEqual(t.stop(), 0)
            st = os.stat(t.data_dir)
            self.assertEqual(st.st_uid, int(run(["id", "-u", "tern"]).stdout))

        # Upgrade (the same package again): the admin's change to the conffile stays.
        with open("/etc/tern/ternd.toml", "a") as f:
            f.write("# local change kept across upgrades\n")
        p = dpkg("-i", deb)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open("/etc/tern/ternd.toml") as f:
            self.assertIn("# local change kept across upgrades", f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
