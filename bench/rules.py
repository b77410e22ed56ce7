"""Cost of evaluating 10, 100 and 1,000 rules per message (rules compiled once).

Rule sets are generated with a realistic mix (contains lists, regexes, sender domains,
headers, attachments, any/not); messages are the .eml files of tests/mail parsed once.
Prints the median and 99th percentile per message.

    .venv/bin/python bench/rules.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from maildesk.mail.parse import parse  # noqa: E402
from maildesk.rules import RuleContext, evaluate, load_ruleset  # noqa: E402

WORDS = ["factura", "caído", "contraseña", "outage", "refund", "pedido", "envío", "acceso",
         "urgente", "error", "bloqueado", "licencia", "vpn", "impresora", "correo", "alta"]
KINDS = [
    lambda i, r: f'subject: {{contains: ["{r.choice(WORDS)}{i}", "{r.choice(WORDS)}"]}}',
    lambda i, r: f'body: {{regex: "(?i){r.choice(WORDS)}\\\\s+\\\\d+"}}',
    lambda i, r: f"from: [cliente{i}.example, vip{i}@acme.example]",
    lambda i, r: f"header: {{name: X-Mailer, contains: mailer{i}}}",
    lambda i, r: f'attachments: {{name: "*{r.choice(WORDS)}*.pdf"}}',
    lambda i, r: (f'any: [{{subject: {{contains: ["{r.choice(WORDS)}"]}}}}, '
                  f'{{body: {{contains: ["{r.choice(WORDS)} {i}"]}}}}]'),
    lambda i, r: f"not: {{subject: {{contains: [ok{i}]}}}}\n    ticket: new",
]


def write_rules(directory: Path, count: int) -> None:
    rng = random.Random(count)
    lines = []
    for i in range(count):
        condition = KINDS[i % len(KINDS)](i, rng)
        lines.append(f"- name: rule {i}\n  when:\n    {condition}\n"
                     f"  then: {{queue: q{i % 7}, tags: [t{i % 13}]}}\n")
    (directory / "50-generated.yaml").write_text("".join(lines), encoding="utf-8")


def messages() -> list:
    mails = []
    for path in sorted((REPO / "tests/mail").rglob("*.eml")):
        try:
            mails.append(parse(path.read_bytes()))
        except Exception:  # noqa: BLE001 - a broken sample is not what we measure
            continue
    return mails


def measure(count: int, mails: list, rounds: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        write_rules(Path(tmp), count)
        start = time.perf_counter()
        ruleset = load_ruleset(Path(tmp))
        load_ms = (time.perf_counter() - start) * 1000
    ctx = RuleContext(now=datetime(2024, 5, 7, 10, tzinfo=UTC), timezone="Europe/Madrid")
    samples = []
    for _ in range(rounds):
        for mail in mails:
            start = time.perf_counter_ns()
            evaluate(ruleset, mail, ctx)
            samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], load_ms


def main() -> None:
    mails = messages()
    print(f"{len(mails)} messages from tests/mail, Python {sys.version.split()[0]}")
    print(f"{'rules':>6} {'median µs':>10} {'p99 µs':>10} {'load ms':>9}")
    for count, rounds in ((10, 200), (100, 50), (1000, 10)):
        median, p99, load_ms = measure(count, mails, rounds)
        print(f"{count:>6} {median:>10.1f} {p99:>10.1f} {load_ms:>9.1f}")


if __name__ == "__main__":
    main()
