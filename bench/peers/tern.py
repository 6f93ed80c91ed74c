"""Runs a private ternd on loopback for benchmarks (stdlib only; the Tern side of the peers).

    import sys; sys.path.insert(0, "<repo>/bench/peers")
    from tern import TernServer, find_binaries, pss_kib, raise_nofile
    with TernServer(listeners=("imap", "submission"),
                    sections={"relay": {"smarthost": "127.0.0.1:2525", "smarthost_tls": "none"}}) as t:
        t.start()
        t.add_user("bench@bench.test", "secret")
        t.port("imap")                  # 127.0.0.1 port
        t.pids()                        # [pid] (ternd is one process)

Binaries: $TERND / $TERNCTL, else <repo>/build/bench/{daemon/ternd,ctl/ternctl}, else any
<repo>/build/*/ with both (newest ternd first). Logging is at "warn" so the log does not cost
throughput; limits are raised for benchmarks (max_connections 20000, per IP 20000) and AUTH
without TLS is allowed on loopback. A self-signed certificate is made for STARTTLS listeners.
"""
import glob
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PeerError(Exception):
    pass


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def find_binaries():
    """(ternd, ternctl) paths, or raises PeerError."""
    d, c = os.environ.get("TERND"), os.environ.get("TERNCTL")
    if d and c and os.access(d, os.X_OK) and os.access(c, os.X_OK):
        return d, c
    cands = [os.path.join(REPO, "build", "bench")]
    others = [p for p in glob.glob(os.path.join(REPO, "build", "*")) if p not in cands]
    others.sort(key=lambda p: os.path.getmtime(os.path.join(p, "daemon", "ternd"))
                if os.path.exists(os.path.join(p, "daemon", "ternd")) else 0, reverse=True)
    for b in cands + others:
        d, c = os.path.join(b, "daemon", "ternd"), os.path.join(b, "ctl", "ternctl")
        if os.access(d, os.X_OK) and os.access(c, os.X_OK):
            return d, c
    raise PeerError("ternd/ternctl not built (cmake --build build/bench --target ternd ternctl)")


def raise_nofile(n):
    """Raises RLIMIT_NOFILE (soft, and hard when root) to at least n; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n)
    if hard != resource.RLIM_INFINITY and want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pss_kib(pids):
    """Sum of Pss (KiB) over pids from /proc/PID/smaps_rollup (vanished pids count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def descendants(pid):
    """pid and every descendant pid (from /proc/*/stat)."""
    children = {}
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(st) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(st.split("/")[2]))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


class TernServer:
    def __init__(self, listeners=("smtp", "submission", "imap", "pop3"), sections=None,
                 log_level="warn", keep_dir=False):
        self.ternd, self.ternctl = find_binaries()
        self.dir = tempfile.mkdtemp(prefix="tern-bench-")
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "ternd.toml")
        self.log_path = os.path.join(self.dir, "ternd.log")
        self.keep_dir = keep_dir
        self.proc = None
        self.ports = {name: free_port() for name in listeners}
        cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=localhost"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise PeerError("openssl req failed: " + p.stderr)
        tables = {
            "tls": {"cert": cert, "key": key},
            "listen": {n: f"127.0.0.1:{port}" for n, port in self.ports.items()},
            "auth": {"allow_plaintext_without_tls": True},
            "limits": {"max_connections": 20000, "smtp_max_connections_per_ip": 20000, "max_unauthenticated_per_ip": 20000, "max_user_ip_connections": 20000},
            # Sender checks off unless a bench asks for them: loopback has no reverse DNS, so
            # iprev (enforce by default) would file every MX delivery in Junk.
            "inbound_auth": {k: "off" for k in ("spf", "dkim", "dmarc", "iprev")},
            # The content score too (on in ternd by default): the peers it is compared with
            # (Postfix, Dovecot) run no filter. bench/spam_filter.py measures its cost.
            "spam": {"enabled": False},
        }
        for t, kv in (sections or {}).items():
            tables.setdefault(t, {}).update(kv)
        lines = ['hostname = "tern.bench.test"', f"data_dir = {_toml(self.data_dir)}",
                 f"log_level = {_toml(log_level)}", ""]
        for t, kv in tables.items():
            lines.append(f"[{t}]")
            lines += [f"{k} = {_toml(v)}" for k, v in kv.items()]
            lines.append("")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))

    def port(self, name):
        return self.ports[name]

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ctl(self, *args, input=None):
        p = subprocess.run([self.ternctl, "-c", self.config_path, *args], input=input,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise PeerError(f"ternctl {' '.join(args)}: {p.stderr.strip() or p.stdout.strip()}")
        return p.stdout

    def add_user(self, address, password):
        domain = address.split("@", 1)[1]
        if domain not in self.ctl("domain", "list").split():
            self.ctl("domain", "add", domain)
        self.ctl("user", "add", address, input=password + "\n")

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")
        # ternd inherits our RLIMIT_NOFILE (raised by the benchmark for many connections).
        self.proc = subprocess.Popen([self.ternd, "-c", self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        for name, port in self.ports.items():
            while True:
                if self.proc.poll() is not None:
                    raise PeerError(f"ternd exited with {self.proc.returncode}: {self.log()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise PeerError(f"ternd: {name} port {port} does not accept")
                    time.sleep(0.05)
        return self

    def pids(self):
        return descendants(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self, timeout=30.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
