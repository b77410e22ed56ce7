"""`maildesk strip` as admins run it: a real subprocess, no configuration needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MAIL = Path(__file__).resolve().parent.parent / "mail"


def strip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maildesk", "strip", *args],
                          capture_output=True, text=True, timeout=60)


def test_json_lists_each_file_with_the_kept_text() -> None:
    files = [str(MAIL / "replies" / "01-gmail-es-gracias-mid-text.eml"),
             str(MAIL / "replies" / "11-outlook-de-von-gesendet.eml")]
    done = strip(*files, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [r["file"] for r in out] == files
    assert "el disco estaba lleno" in out[0]["text"] and "escribió" not in out[0]["text"]
    assert "Neustart" in out[1]["text"] and "Gesendet" not in out[1]["text"]


def test_text_output_names_files_and_a_broken_file_fails_alone() -> None:
    good = MAIL / "replies" / "46-iphone-en-sent-from.eml"
    done = strip(str(good), str(MAIL / "broken" / "08-not-mail.eml"))
    assert done.returncode == 1
    assert f"==> {good} <==" in done.stdout and "garage" in done.stdout
    assert "Sent from my iPhone" not in done.stdout
    assert "08-not-mail.eml" in done.stderr
