"""The gallery examples and the documentation's quick start run as written.

Each example runs in a fresh interpreter, as a reader would run it, with a
non-interactive matplotlib backend, and must end with a figure drawn. These
tests train real models on the bundled data: deselect them with
``-m "not examples"``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

pytestmark = pytest.mark.examples

# Runs an example as __main__ and fails unless it leaves a figure behind.
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *args, **kwargs: None  # keep the figures to count them
runpy.run_path(sys.argv[1], run_name="__main__")
if not plt.get_fignums():
    sys.exit(f"{sys.argv[1]} drew no figure")
"""


def _run(code, *args, cwd):
    # The environment, JAX's compilation cache included, is the test run's.
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_there_is_an_example_per_topic():
    assert [path.name for path in EXAMPLES] == [
        "plot_counterfactuals.py",
        "plot_generative_scenarios.py",
        "plot_own_keras_model.py",
        "plot_threshold_grid_search.py",
        "plot_threshold_repair.py",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_and_draws_a_figure(path, tmp_path):
    _run(RUNNER, str(path), cwd=tmp_path)


def test_quick_start_runs_in_fifteen_lines(tmp_path):
    index = (ROOT / "doc" / "index.rst").read_text(encoding="utf-8")
    section = index[index.index("Quick start") :]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section).group(1)
    lines = [line[3:] for line in block.splitlines()]
    code = "\n".join(lines).strip()
    assert len([line for line in code.splitlines() if line.strip()]) <= 15
    checks = (
        "\nassert search.best_params_"
        "\nassert scenarios.shape == X.shape and searched.shape == X.shape"
        "\nprint('quick start ran')"
    )
    assert "quick start ran" in _run(code + checks, cwd=tmp_path)
