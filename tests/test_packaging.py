"""What `pip install truthgate` puts on a machine: the command and the Rego it judges with."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_every_policy_as_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("truthgate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/data/", 1)[1] for n in names if ".data/data/share/truthgate/" in n}
    expected = {
        "share/truthgate/policies/" + str(p.relative_to(ROOT / "policies"))
        for p in (ROOT / "policies").rglob("*")
        if p.is_file() and p.suffix in {".rego", ".yaml"}
    }
    assert expected and expected <= shipped
    assert "webhooks/py.typed" in names
    assert any(n.endswith("entry_points.txt") for n in names)
