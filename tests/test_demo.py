"""The demo runs end to end on the bundled data and writes its figures."""

import numpy as np
import pytest

from sklearn_lstm_reshape.__main__ import main
from sklearn_lstm_reshape._demo import run_demo


def test_demo_prints_its_tables_and_writes_its_figures(tmp_path, capsys):
    results = run_demo(tmp_path, quick=True, n_jobs=1)
    printed = capsys.readouterr().out
    for line in (
        "Candidates, best first",
        "MAE without reshaping",
        "MAE with reshaping",
        "Before/after plot",
        "3 °C warmer",
        "Scenario plot",
        "LatentReshaper",
        "Counterfactual plot",
    ):
        assert line in printed
    assert results["figures"] == [
        str(tmp_path / "threshold_repair.png"),
        str(tmp_path / "generative_scenarios.png"),
        str(tmp_path / "latent_counterfactuals.png"),
    ]
    for figure in results["figures"]:
        with open(figure, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    threshold = results["threshold"]
    assert len(threshold["candidates"]) == 4
    assert all(c["rows_flagged"] > 0 for c in threshold["candidates"])
    assert threshold["mae_raw"] > 0 and threshold["candidates"][0]["mae"] > 0
    for report in results["generative"]["variants"].values():
        # Asked for +3 °C on temp_max and temp_min, nothing on the others.
        np.testing.assert_allclose(
            report["condition_gap_before_by_output"], [0, 3, 3, 0], atol=1e-5
        )
        assert np.isfinite(report["condition_gap_after_by_output"]).all()
    latent = results["latent"]["variants"]
    assert list(latent) == ["latent space", "latent space, residual", "input space"]
    for report in latent.values():
        assert report["validity_before"] == 0.0 and 0.0 <= report["validity"] <= 1.0
        assert report["target_gap_after"] < report["target_gap_before"]


def test_command_line_needs_a_command(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "demo" in capsys.readouterr().err
