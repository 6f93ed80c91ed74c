"""Integration-test harness: runs a real ternd on loopback ephemeral ports (stdlib only).

    from ternlib import Tern
    with Tern(extra_toml="[limits]\\nmax_unauthenticated_per_ip = 5\\n") as t:
        t.start()
        s = t.connect("smtp")            # plain socket, greeting not yet read
        s = t.connect_tls("imaps")       # TLS socket (certificate not verified)
        t.ctl("user", "add", ...)        # $TERNCTL -c <config> ...
        print(t.log())

Three ways to write a test, each defined here once:
- a unittest class sharing one running ternd: subclass TernCase;
- an ordered scenario whose steps build on each other: module-level `check = Checks()`,
  `check(name, cond, detail)` per step, `return check.exit_code()` at the end;
- a list of independent case functions, each starting what it needs: run_cases(cases).

Environment (set by ctest): TERND, TERNCTL, TERN_SOURCE_DIR, TERN_BUILD_DIR.
Every wait is bounded; on failure inside `with`, the ternd log is printed to stderr.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")
IMPLICIT_TLS = ("submissions", "imaps", "pop3s")
HOSTNAME = "mail.example.test"


class TernError(Exception):
    pass


def ternd_path():
    path = os.environ.get("TERND", "")
    if not path or not os.access(path, os.X_OK):
        raise TernError(f"TERND not set or not executable: {path!r}")
    return path


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind to 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def make_cert(directory, cn="localhost", name="cert", san=None):
    """Self-signed EC certificate: returns (cert_path, key_path). san: the subjectAltName
    (default DNS:<cn>)."""
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    # Write to temporary names first so a running ternd never reads half a file.
    tmp_cert, tmp_key = cert + ".new", key + ".new"
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", tmp_key, "-out", tmp_cert, "-days", "2", "-subj", f"/CN={cn}",
         "-addext", f"subjectAltName={san or 'DNS:' + cn}"],
        capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise TernError(f"openssl req failed: {p.stderr}")
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return cert, key


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TernError(f"cannot write {v!r} as TOML")


def cert_der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def client_tls_context(verify_with=None):
    """TLS client context: unverified by default, or trusting exactly `verify_with`."""
    if verify_with:
        ctx = ssl.create_default_context(cafile=verify_with)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def recv_until(sock, predicate, timeout=10.0, limit=1 << 20):
    """Reads until predicate(data) or EOF or timeout; returns the bytes read."""
    data = b""
    deadline = time.monotonic() + timeout
    while not predicate(data) and len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def recv_line(sock, timeout=10.0):
    return recv_until(sock, lambda d: b"\n" in d, timeout)


class Tern:
    def __init__(self, listeners=LISTENERS, allow_plaintext_without_tls=False, extra_toml="",
                 tls=True, hostname=HOSTNAME, keep_dir=False, sections=None, base_configs=(),
                 ternd=None, ternctl=None):
        """sections: extra keys per TOML table, merged into the generated ones, e.g.
        {"auth": {"max_failures_per_ip": 3}, "limits": {"max_unauthenticated_per_ip": 2}}.
        extra_toml: raw text appended at the end (must not repeat a generated table:
        [tls], [listen] and [auth] are always generated, plus any table in `sections`).
        base_configs: files given with -c before the generated one, which then overrides them
        key by key (an installed /etc/tern/ternd.toml, say). ternd, ternctl: binaries to run
        instead of $TERND and $TERNCTL."""
        self.dir = tempfile.mkdtemp(prefix="tern-it-")
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "ternd.toml")
        self.log_path = os.path.join(self.dir, "ternd.log")
        self.hostname = hostname
        self.allow_plaintext_without_tls = allow_plaintext_without_tls
        self.extra_toml = extra_toml
        self.keep_dir = keep_dir
        self.sections = {k: dict(v) for k, v in (sections or {}).items()}
        self.proc = None
        self._log_file = None
        self.base_configs = list(base_configs)
        self.ternd = ternd
        self.ternctl = ternctl
        self.cert = self.key = None
        if tls:
            self.cert, self.key = make_cert(self.dir, "localhost")
        self.ports = {name: free_port() for name in listeners}
        self.write_config()

    # -- configuration ---------------------------------------------------------------------

    def config_text(self):
        lines = [
            f"hostname = {toml_value(self.hostname)}",
            f"data_dir = {toml_value(self.data_dir)}",
            'log_level = "debug"',
            "",
        ]
        if self.cert:
            lines += ["[tls]", f"cert = {toml_value(self.cert)}", f"key = {toml_value(self.key)}", ""]
        lines.append("[listen]")
        for name, port in self.ports.items():
            lines.append(f'{name} = "127.0.0.1:{port}"')
        tables = {k: dict(v) for k, v in self.sections.items()}
        tables.setdefault("auth", {}).setdefault("allow_plaintext_without_tls",
                                                 self.allow_plaintext_without_tls)
        # The sandbox has no reachable DNS: the MX sender checks are off unless a test turns
        # them on (with [dns] servers pointing at tests/support/dns_server.py or its own).
        checks = tables.setdefault("inbound_auth", {})
        for check in ("spf", "dkim", "dmarc", "iprev"):
            checks.setdefault(check, "off")
        # The built-in spam score (on in ternd by default) adds X-Spam-* fields to every MX
        # message: off unless a test turns it on, so tests may compare stored bytes.
        tables.setdefault("spam", {}).setdefault("enabled", False)
        # The MX screening (issue 17) would slow or refuse the suites' loopback clients: no
        # greeting delay, no pipelining check, no rate limits unless a test asks.
        screen = tables.setdefault("screen", {})
        for key, off in (("greet_delay_ms", 0), ("reject_pipelining", False),
                         ("connections_per_minute", 0), ("messages_per_hour", 0),
                         ("recipients_per_hour", 0)):
            screen.setdefault(key, off)
        for table, keys in tables.items():
            lines += ["", f"[{table}]"] + [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        return "\n".join(lines) + "\n" + self.extra_toml

    def write_config(self, text=None):
        with open(self.config_path, "w") as f:
            f.write(self.config_text() if text is None else text)

    def _move_ports(self):
        """New free ports for every listener, in the config file as written (also one a test
        wrote by hand): for a start-up that lost a port to another test's socket between
        free_port() and ternd's bind."""
        with open(self.config_path) as f:
            text = f.read()
        for name, old in list(self.ports.items()):
            new = free_port()
            text = text.replace(f'"127.0.0.1:{old}"', f'"127.0.0.1:{new}"')
            self.ports[name] = new
        with open(self.config_path, "w") as f:
            f.write(text)

    def port(self, name):
        return self.ports[name]

    def replace_cert(self, cn):
        """New certificate and key at the same paths (then send SIGHUP to pick it up)."""
        self.cert, self.key = make_cert(self.dir, cn)
        return self.cert

    # -- process ---------------------------------------------------------------------------

    def start(self, timeout=30.0, wait_ports=True):
        """Starts ternd and waits until it is ready. The ports come from free_port(), so
        another test (ctest runs several at once) can take one before ternd binds it: that
        start-up is retried on new ports, twice at most. Any other start-up failure raises
        with the end of ternd's log in the message."""
        for attempt in range(3):
            offset = len(self.log())
            try:
                return self._start_once(timeout, wait_ports)
            except TernError as e:
                this_run = self.log()[offset:]
                if self.proc is not None and self.proc.poll() is not None:
                    self.proc = None
                    self._close_log()
                if (attempt < 2 and "cannot listen on" in this_run and "in use" in this_run
                        and self.proc is None):
                    self._move_ports()
                    continue
                tail = "\n".join(this_run.strip().splitlines()[-8:])
                raise TernError(f"{e}; ternd log:\n{tail}") from None
        raise AssertionError("unreachable")

    def _start_once(self, timeout, wait_ports):
        if self.proc is not None:
            raise TernError("already started")
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.ternd or ternd_path(), *self.config_args()],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=self._log_file)
        deadline = time.monotonic() + timeout
        # Ready means: logged "ternd ready" (after binding and dropping privileges) and every
        # port accepts a TCP connection.
        ready = f"ternd ready pid={self.proc.pid} "  # this run's line, not an earlier one
        while ready not in self.log():
            if self.proc.poll() is not None:
                raise TernError(f"ternd exited with {self.proc.returncode} during start-up")
            if time.monotonic() > deadline:
                raise TernError("ternd did not become ready in time")
            time.sleep(0.05)
        if wait_ports:
            for name in self.ports:
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", self.ports[name]), timeout=2).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline or self.proc.poll() is not None:
                            raise TernError(f"port {name} ({self.ports[name]}) does not accept")
                        time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def signal(self, signum):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit status (raises if it does not exit in time)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise TernError(f"ternd did not exit within {timeout}s of SIGTERM")
        finally:
            self._close_log()
        self.proc = None
        return rc

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._close_log()
        self.proc = None

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until regex `pattern` matches the log (from offset `start`); returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log()[start:])
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    # -- clients ---------------------------------------------------------------------------

    def connect(self, name, timeout=10.0):
        return socket.create_connection(("127.0.0.1", self.ports[name]), timeout=timeout)

    def connect_tls(self, name, timeout=10.0, context=None, server_hostname="localhost"):
        raw = self.connect(name, timeout)
        ctx = context or client_tls_context()
        try:
            return ctx.wrap_socket(raw, server_hostname=server_hostname)
        except Exception:
            raw.close()
            raise

    def config_args(self):
        args = []
        for path in [*self.base_configs, self.config_path]:
            args += ["-c", path]
        return args

    def ctl(self, *args, input=None, timeout=60):
        """Runs $TERNCTL -c <config> args...; returns CompletedProcess (text)."""
        ternctl = self.ternctl or os.environ.get("TERNCTL", "")
        if not ternctl or not os.access(ternctl, os.X_OK):
            raise TernError(f"TERNCTL not set or not executable: {ternctl!r}")
        return subprocess.run([ternctl, *self.config_args(), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)

    # -- lifetime --------------------------------------------------------------------------

    def cleanup(self):
        try:
            self.kill()
        finally:
            if not self.keep_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print(f"---- ternd log ({self.log_path}) ----\n{self.log()}---- end of log ----",
                  file=sys.stderr)
        self.cleanup()
        return False


def run_ternd_once(config_path, timeout=30.0):
    """Runs ternd expecting it to exit by itself (start-up errors): (rc, stdout, stderr)."""
    p = subprocess.run([ternd_path(), "-c", config_path], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


class TernCase(unittest.TestCase):
    """A test class sharing one running ternd (cls.t).

    Subclasses set `tern_options` (keyword arguments of Tern) or override make_tern(), and
    may override prepare(t) (before start: users, keys, files) and started() (after start).
    A fixture the class starts (a DNS server, an SMTP sink) is stopped with
    cls.addClassCleanup(fixture.close): class cleanups run even when set-up fails. A failed
    test prints the tail of the ternd log."""

    tern_options = {}

    @classmethod
    def make_tern(cls):
        return Tern(**cls.tern_options)

    @classmethod
    def prepare(cls, t):
        pass

    @classmethod
    def started(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.t = cls.make_tern()
        cls.addClassCleanup(cls.t.cleanup)
        try:
            cls.prepare(cls.t)
            cls.t.start()
            cls.started()
        except Exception:
            print(cls.t.log(), file=sys.stderr)
            raise

    def tearDown(self):
        # unittest keeps the running result in _outcome; print the server's view on failure.
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = [case for case, _ in getattr(result, "failures", []) + getattr(result, "errors", [])]
        if self in failed:
            print(self.t.log()[-6000:], file=sys.stderr)


class Checks:
    """The steps of an ordered scenario: each call counts one check and prints a failure at
    once (the scenario goes on, so one run shows every broken step)."""

    def __init__(self):
        self.count = 0
        self.failures = []

    def __call__(self, name, cond, detail=""):
        self.count += 1
        if not cond:
            self.failures.append(f"{name}: {detail}")
            print(f"FAIL {name}: {detail}", file=sys.stderr, flush=True)
        return cond

    def exit_code(self):
        print(f"{self.count} checks, {len(self.failures)} failures")
        return 1 if self.failures else 0


def run_cases(cases, only=(), log=None):
    """Runs independent case functions (all, or those named in `only`) as unittest cases;
    for a failure, also prints log() (e.g. the case's ternd log). Returns the exit status."""
    suite = unittest.TestSuite()
    for case in cases:
        if only and case.__name__ not in only:
            continue
        suite.addTest(unittest.FunctionTestCase(case, description=case.__name__))

    class Result(unittest.TextTestResult):
        def _print_log(self):
            if log is not None:
                print(f"---- ternd log ----\n{log()[-20000:]}---- end of log ----",
                      file=sys.stderr, flush=True)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._print_log()

        def addError(self, test, err):
            super().addError(test, err)
            self._print_log()

    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stdout)
    return 0 if runner.run(suite).wasSuccessful() else 1
