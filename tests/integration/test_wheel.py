"""The wheel carries the example desk: build it, install it in a fresh venv, init and check.

Offline and quick: the wheel is built without build isolation (hatchling comes with the
test extras) and installed without dependencies; the fresh venv sees the dependencies
through a .pth line naming this venv's site-packages, which does not make the source
checkout importable (.pth files are not read in a directory a .pth line adds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith("MAILDESK_")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def install_wheel(tmp_path: Path) -> Path:
    """A fresh venv with maildesk installed from a freshly built wheel; its bin folder."""
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "-q", "-w", dist, REPO, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("maildesk-*.whl")
    venv = tmp_path / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                  cwd=tmp_path).stdout.strip()
    (Path(purelib) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
               "--no-index", "-q", wheel, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    where = run(python, "-c", "import maildesk; print(maildesk.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(purelib), where.stdout  # not the source checkout
    return venv / "bin"


def test_wheel_init_and_check(tmp_path: Path) -> None:
    bin_dir = install_wheel(tmp_path)
    desk = tmp_path / "desk"
    init = run(bin_dir / "maildesk", "init", desk, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    for path in ("maildesk.toml", "secret", "rules/50-outages.yaml", "rules/sla.yaml",
                 "templates/en/ack.txt.j2", "templates/es/closure.html.j2"):
        assert (desk / path).is_file(), path
    assert not (desk / "__pycache__").exists()
    check = run(bin_dir / "maildesk", "--config", desk / "maildesk.toml", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout
    # A desk keeps only the templates it changes: the rest are the packaged ones.
    shutil.rmtree(desk / "templates" / "en")
    check = run(bin_dir / "maildesk", "--config", desk / "maildesk.toml", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
