"""Peak RSS of `maildesk ingest` for a mail with a big attachment (25 MB by default).

Baseline: a Python process that reads the same mail bytes from the file (interpreter
plus one copy of the mail). Each variant runs as its own process on a fresh SQLite desk
and its peak RSS (ru_maxrss from wait4) is printed with the excess over the baseline in
multiples of the mail's size. Goal: ingest peaks at most baseline + 3x the mail.

    .venv/bin/python bench/rss.py [--mb 25]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import write_desk  # noqa: E402

BASELINE = "import sys; data = open(sys.argv[1], 'rb').read()"


def big_mail(megabytes: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana García <ana@cliente.example>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = "Logs del servidor"
    msg["Message-ID"] = f"<rss-{os.getpid()}@cliente.example>"
    msg.set_content("Adjunto los logs del servidor de producción.\n")
    msg.add_attachment(os.urandom(megabytes * 1024 * 1024), maintype="application",
                       subtype="gzip", filename="logs.tar.gz")
    return msg.as_bytes()


def peak_mb(argv: list[str]) -> float:
    """Peak resident set of one process run, in MB."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=25, help="attachment size in MB")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        args.write.write_bytes(big_mail(args.mb))
        return
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        mail = Path(tmp) / "big.eml"
        # Written by a child: a process's peak RSS counts what it inherited at fork, so
        # this process stays small.
        subprocess.run([py, __file__, "--mb", str(args.mb), "--write", str(mail)], check=True)
        size = mail.stat().st_size / 1024 / 1024
        variants = [("baseline (python + read mail)", [py, "-c", BASELINE, str(mail)])]
        for name, extra in (("ingest --no-process", ["--no-process"]), ("ingest", [])):
            config = write_desk(Path(tmp) / name.replace(" ", ""),
                                f"sqlite:///{tmp}/{name.replace(' ', '')}.db")
            subprocess.run([py, "-m", "maildesk", "-c", str(config), "db", "upgrade"],
                           check=True, capture_output=True)
            variants.append((f"maildesk {name}",
                             [py, "-m", "maildesk", "-c", str(config), "ingest", *extra,
                              str(mail)]))
        rows = [(name, peak_mb(argv)) for name, argv in variants]
    base = rows[0][1]
    print(f"mail {size:.1f} MB ({args.mb} MB attachment)")
    print(f"{'variant':32} {'peak MB':>8} {'(peak-base)/mail':>17}")
    for name, peak in rows:
        print(f"{name:32} {peak:8.1f} {(peak - base) / size:17.2f}")
    print("goal: (peak-base)/mail <= 3.0")


if __name__ == "__main__":
    main()
