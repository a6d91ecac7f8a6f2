"""The distribution's package list matches the folders, and the mapped packages import."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"text2imu": "text2imu", "text2imu.builder": "builder", "text2imu.benchmark": "benchmark",
           "text2imu.cards": "cards"}


def _packages_on_disk() -> set[str]:
    found = set()
    for pkg, folder in MAPPING.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            if ".venv" in init.parts or "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(base)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    return found


def test_pyproject_lists_every_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"] == MAPPING
    assert set(cfg["packages"]) == _packages_on_disk()


def test_every_package_imports():
    for pkg in sorted(_packages_on_disk()):
        mod = importlib.import_module(pkg)
        # imported from this checkout (editable install), not from a stale copy
        assert Path(mod.__file__).resolve().is_relative_to(ROOT), pkg
