#!/usr/bin/python3
"""ternctl as an admin script sees it: exit codes, one-line errors, tab-separated lists.

Runs $TERNCTL against a temporary config whose data_dir is in a temporary directory.
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import Checks  # noqa: E402

TERNCTL = os.environ.get("TERNCTL", "")


def run(args, stdin="", config=None):
    cmd = [TERNCTL]
    if config is not None:
        cmd += ["-c", config]
    cmd += args
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


check = Checks()


def ok(name, args, stdin="", config=None, stdout=None):
    rc, out, err = run(args, stdin, config)
    check(name, rc == 0 and err == "", f"rc={rc} stderr={err!r}")
    if stdout is not None:
        check(name + " output", out == stdout, f"got {out!r}, want {stdout!r}")
    return out


def fails(name, args, stdin="", config=None, contains=""):
    rc, out, err = run(args, stdin, config)
    lines = err.splitlines()
    check(name, rc != 0, f"rc={rc}")
    check(name + " one line", len(lines) == 1 and lines[0].startswith("ternctl: "), repr(err))
    if contains:
        check(name + " says why", contains in err, repr(err))
    check(name + " no stdout", out == "", repr(out))


def main():
    if not TERNCTL or not os.access(TERNCTL, os.X_OK):
        print(f"TERNCTL not set or not executable: {TERNCTL!r}", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="tern-ctl-test-")
    try:
        data = os.path.join(tmp, "data", "dir")
        conf = os.path.join(tmp, "ternd.toml")
        with open(conf, "w") as f:
            f.write(f'hostname = "mx.example.test"\ndata_dir = "{data}"\n'
                    "[store]\ndefault_quota = 1048576\n")

        # Domains: case-insensitive, data_dir created private.
        ok("domain add", ["domain", "add", "Example.TEST"], config=conf, stdout="")
        check("data_dir created", os.path.isdir(data))
        check("data_dir mode 0750", stat.S_IMODE(os.stat(data).st_mode) == 0o750,
              oct(stat.S_IMODE(os.stat(data).st_mode)))
        ok("domain add second", ["domain", "add", "second.test"], config=conf)
        fails("domain duplicate", ["domain", "add", "example.test"], config=conf, contains="already exists")
        fails("domain bad name", ["domain", "add", "bad_domain!"], config=conf, contains="bad domain")
        ok("domain list", ["domain", "list"], config=conf, stdout="example.test\nsecond.test\n")

        # Users: password from stdin, default quota from the config.
        ok("user add", ["user", "add", "Bob@Example.test"], stdin="hunter2\n", config=conf)
        ok("user add quota", ["user", "add", "alice@second.test", "--quota", "2048"], stdin="pw\n", config=conf)
        fails("user duplicate", ["user", "add", "bob@example.test"], stdin="x\n", config=conf,
              contains="already exists")
        fails("user unknown domain", ["user", "add", "bob@nowhere.test"], stdin="x\n", config=conf,
              contains="not a local domain")
        fails("user empty password", ["user", "add", "carol@example.test"], stdin="\n", config=conf,
              contains="empty password")
        fails("user no password", ["user", "add", "carol@example.test"], stdin="", config=conf,
              contains="password")
        fails("user bad address", ["user", "add", "not-an-address"], stdin="x\n", config=conf)
        ok("user list", ["user", "list"], config=conf,
           stdout="bob@example.test\t1048576\tenabled\nalice@second.test\t2048\tenabled\n")
        ok("user quota set", ["user", "quota", "bob@example.test", "5000"], config=conf, stdout="")
        ok("user quota get", ["user", "quota", "BOB@example.test"], config=conf, stdout="5000\n")
        fails("user quota unknown", ["user", "quota", "eve@example.test"], config=conf, contains="no such user")
        ok("user passwd", ["user", "passwd", "bob@example.test"], stdin="new-password\n", config=conf)
        fails("user passwd unknown", ["user", "passwd", "eve@example.test"], stdin="x\n", config=conf,
              contains="no such user")
        ok("user disable", ["user", "disable", "alice@second.test"], config=conf)
        out = ok("user list disabled", ["user", "list"], config=conf)
        check("disabled listed", "alice@second.test\t2048\tdisabled\n" in out, repr(out))

        # The password is stored hashed, never as given.
        db = os.path.join(data, "accounts.db")
        with open(db, "rb") as f:
            raw = f.read()
        for extra in ("-wal",):
            if os.path.exists(db + extra):
                with open(db + extra, "rb") as f:
                    raw += f.read()
        check("password not stored in clear", b"new-password" not in raw and b"hunter2" not in raw)

        mode = stat.S_IMODE(os.stat(db).st_mode)
        check("accounts.db not world-readable", mode & 0o007 == 0, oct(mode))

        # Aliases.
        ok("alias add", ["alias", "add", "Team@example.test", "bob@example.test,ext@remote.test"], config=conf)
        ok("alias catch-all", ["alias", "add", "@second.test", "alice@second.test"], config=conf)
        fails("alias duplicate", ["alias", "add", "team@example.test", "bob@example.test"], config=conf,
              contains="already exists")
        fails("alias unknown domain", ["alias", "add", "x@nowhere.test", "bob@example.test"], config=conf,
              contains="not a local domain")
        fails("alias over user", ["alias", "add", "bob@example.test", "x@remote.test"], config=conf)
        ok("alias list", ["alias", "list"], config=conf,
           stdout="team@example.test\tbob@example.test,ext@remote.test\n@second.test\talice@second.test\n")

        # Domain removal is refused while in use.
        fails("domain remove in use", ["domain", "remove", "example.test"], config=conf, contains="remove them first")
        ok("alias remove", ["alias", "remove", "team@example.test"], config=conf)
        fails("alias remove again", ["alias", "remove", "team@example.test"], config=conf, contains="no such alias")
        ok("user remove", ["user", "remove", "bob@example.test"], config=conf)
        fails("user remove again", ["user", "remove", "bob@example.test"], config=conf, contains="no such user")
        ok("domain remove", ["domain", "remove", "EXAMPLE.test"], config=conf)
        ok("domain list after", ["domain", "list"], config=conf, stdout="second.test\n")

        # Configuration problems: one line naming the file, non-zero.
        fails("missing config", ["domain", "list"], config=os.path.join(tmp, "absent.toml"), contains="absent.toml")
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('data_dir = "unterminated\n')
        fails("malformed config", ["domain", "list"], config=bad, contains="bad.toml")
        unknown = os.path.join(tmp, "unknown.toml")
        with open(unknown, "w") as f:
            f.write(f'data_dir = "{data}"\ndata_dri = "typo"\n')
        fails("unknown key", ["domain", "list"], config=unknown, contains="data_dri")

        # Usage errors.
        fails("no command", [], config=conf)
        fails("unknown command", ["frobnicate"], config=conf)
        fails("missing argument", ["domain", "add"], config=conf)
        rc, out, _ = run(["--help"])
        check("help", rc == 0 and "domain" in out and "user" in out and "alias" in out, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
