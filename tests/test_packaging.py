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


def test_package_data_globs_cover_every_data_file():
    """Every non-Python file inside a package folder would be in a wheel (package-data globs cover it)."""
    import fnmatch

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = cfg["package-data"]
    packages = set(cfg["packages"])
    missing = []
    for pkg, folder in MAPPING.items():
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            rel_parts = path.relative_to(ROOT / folder).parts
            # the innermost package that holds the file, and the file's path relative to it
            for cut in range(len(rel_parts) - 1, -1, -1):
                owner = ".".join([pkg, *rel_parts[:cut]])
                if owner in packages:
                    rel = "/".join(rel_parts[cut:])
                    break
            patterns = globs.get("*", []) + globs.get(owner, [])
            if not any(fnmatch.fnmatch(rel, pat) and rel.count("/") == pat.count("/") for pat in patterns):
                missing.append(f"{owner}: {rel}")
    assert not missing, missing
