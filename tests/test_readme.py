"""Every Python example in README.md runs, as a user would run it after `skelgen pretrain` (on
tiny demo data and a tiny checkpoint, for speed), so that the documentation cannot drift from
the code."""
import re
import shutil
from pathlib import Path

import pytest
from conftest import data_and_checkpoint

from skelgen.checkpoint import record_latest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.fixture(scope="module")
def last_run(tmp_path_factory):
    return data_and_checkpoint(tmp_path_factory.mktemp("readme"))


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i + 1}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block, last_run):
    """In a folder where `skelgen pretrain` ran: the demo data in runs/demo.h5 and the run
    recorded in runs/latest.json (each test has its own working folder, conftest.isolated)."""
    data, ckpt = last_run
    Path("runs").mkdir()
    shutil.copy(data, "runs/demo.h5")
    record_latest(ckpt, "runs/demo.h5")
    exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
