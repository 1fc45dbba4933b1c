"""Installed into a fresh virtual environment, fedtrade adds one import name: `fedtrade`.

`pip install .` builds a wheel and installs it; the test does the two steps apart so the
build can use this environment's setuptools (the fresh venv has none, and nothing may be
downloaded): a non-editable wheel, built without isolation and installed without
dependencies or an index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fedtrade import __version__

ROOT = Path(__file__).resolve().parents[1]
# what a build needs: the metadata, the one package and the folders its links point at
SOURCES = ("pyproject.toml", "README.md", "fedtrade", "trust", "protos", "protocol", "node",
           "coordinator", "sim")
GENERIC_NAMES = ("node", "coordinator", "trust", "protos", "protocol", "sim")
LISTING = """
import json, pkgutil, sysconfig, os
site = sysconfig.get_paths()["purelib"]
print(json.dumps({"modules": sorted({m.name for m in pkgutil.iter_modules()}),
                  "site": sorted(os.listdir(site)) if os.path.isdir(site) else []}))
"""
FINDABLE = ("import importlib.util, json, sys; "
            "print(json.dumps([n for n in sys.argv[1:] if importlib.util.find_spec(n)]))")


def run(*args: str | Path) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300,
                            check=False, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -I everywhere: neither the working folder (this repository) nor PYTHONPATH may lend the
# fresh environment a module it does not hold.
def listing(python: Path) -> tuple[set[str], set[str]]:
    found = json.loads(run(python, "-I", "-c", LISTING))
    return set(found["modules"]), set(found["site"])


@pytest.mark.slow
def test_a_fresh_install_adds_only_the_fedtrade_import_name(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--wheel-dir", tmp_path / "wheels", source)
    (wheel,) = (tmp_path / "wheels").glob("fedtrade-*.whl")

    venv = tmp_path / "fresh"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    modules_before, site_before = listing(python)
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", wheel)
    modules_after, site_after = listing(python)

    assert modules_after - modules_before == {"fedtrade"}
    assert site_after - site_before == {"fedtrade", f"fedtrade-{__version__}.dist-info"}
    installed = (venv / "lib").glob("python*/site-packages/fedtrade")
    (package,) = installed
    for name in GENERIC_NAMES:
        assert (package / name / "__init__.py").is_file(), name
        assert not (package / name).is_symlink(), name  # real files, not links to a source tree
    assert run(python, "-I", "-c", "import fedtrade; print(fedtrade.__version__)").strip() == (
        __version__)
    found = run(python, "-I", "-c", FINDABLE, *GENERIC_NAMES)
    assert json.loads(found) == []
    failed = subprocess.run([python, "-I", "-c", "import node"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert failed.returncode == 1
    assert "ModuleNotFoundError: No module named 'node'" in failed.stderr
