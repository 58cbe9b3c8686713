"""The wheel: what a user installs must carry the default newsletter templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT


@pytest.mark.slow
def test_wheel_ships_the_email_templates(tmp_path: Path) -> None:
    """`pip wheel .` packs templates/email inside the package, where the digest looks."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"publisher/templates/email/{path.name}" for path in (ROOT / "templates/email").iterdir()
    }
    assert expected <= names
