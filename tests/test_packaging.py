"""The package as installed: every subpackage and the recipes ship, and `python -m skelgen` runs.
(.ci/run also builds a wheel and runs the main job from it outside the repository.)"""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_package_and_the_recipes():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "skelgen").rglob("__init__.py")}
    assert found | {"skelgen.recipes"} == set(tool["packages"])
    assert tool["package-dir"]["skelgen.recipes"] == "recipes"


def test_recipes_resolve_from_the_package():
    from skelgen.recipe import RECIPE_DIR, available_recipes
    assert {"demo", "bench-demo"} <= set(available_recipes())
    assert sorted(p.stem for p in (ROOT / "recipes").glob("*.toml")) == available_recipes()
    assert RECIPE_DIR.is_dir()


def test_python_dash_m_runs_the_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "skelgen", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("Usage: skelgen ")
