#!/usr/bin/python3
"""Writes docs/man/ternd.toml.5 from README.md's configuration table, so the manual page and the
README cannot disagree about a key. Run after changing that table; the install test
(tests/integration/test_install.py) fails while the page is out of date.

    /usr/bin/python3 scripts/gen_man_config.py [--check]
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "man", "ternd.toml.5")


def config_rows(readme):
    start = readme.index("| key | default | meaning |")
    rows = []
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) >= 3:
            rows.append(cells[:3])
    return rows


def roff(text):
    text = text.replace("\\", "\\e")
    text = re.sub(r"`([^`]*)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]*)\*\*", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("-", "\\-")
    # A line starting with . or ' would be a request.
    return "\n".join("\\&" + l if l[:1] in (".", "'") else l for l in text.split("\n"))


HEAD = r""".TH TERND.TOML 5 "2026-12-06" "Tern" "File Formats"
.SH NAME
ternd.toml \- configuration of the Tern mail server
.SH SYNOPSIS
.B /etc/tern/ternd.toml
.SH DESCRIPTION
One TOML file configures both
.BR ternd (8)
and
.BR ternctl (8).
Several files may be given with repeated
.B \-c
options: each later file overrides the earlier ones key by key (tables are merged, other
values replaced), so local changes can live in a file of their own.
.PP
A missing or malformed file, an unknown key, a value of the wrong type or out of range, or a
bad address makes both programs exit non\-zero with one line naming the file, the key and the
problem.
Durations are seconds, sizes bytes.
A key renamed by a later version is reported with the names that replaced it.
.SH KEYS
Keys inside a table are written here as \fItable.key\fR; in the file they go under a
\fB[table]\fR header.
"""

TAIL = r""".SH EXAMPLE
.nf
hostname = "mail.example.org"
data_dir = "/var/lib/tern"
user = "tern"
postmaster = "admin@example.org"

[tls]
cert = "/etc/tern/tls/fullchain.pem"
key  = "/etc/tern/tls/privkey.pem"

[listen]
smtp = ["0.0.0.0:25", "[::]:25"]
submissions = ["0.0.0.0:465", "[::]:465"]
imaps = ["0.0.0.0:993", "[::]:993"]
.fi
.SH FILES
.TP
.I /etc/tern/ternd.toml
the configuration read by the packaged service (the commented sample)
.SH SEE ALSO
.BR ternd (8),
.BR ternctl (8)
"""


def render():
    with open(os.path.join(ROOT, "README.md")) as f:
        rows = config_rows(f.read())
    out = [HEAD.rstrip("\n")]
    for keys, default, meaning in rows:
        names = ", ".join(k.replace("-", "\\-") for k in re.findall(r"`([^`]+)`", keys))
        out += [".TP", f"\\fB{names}\\fR (default: {roff(default.strip('`'))})", roff(meaning)]
    return "\n".join(out) + "\n" + TAIL


def main():
    text = render()
    if "--check" in sys.argv[1:]:
        with open(PAGE) as f:
            if f.read() != text:
                print(f"{PAGE} is out of date: run /usr/bin/python3 scripts/gen_man_config.py",
                      file=sys.stderr)
                return 1
        return 0
    with open(PAGE, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
