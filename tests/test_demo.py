"""The demo runs end to end on the bundled data, prints one table and writes one figure."""

import numpy as np
import pytest

from sklearn_lstm_reshape.__main__ import main
from sklearn_lstm_reshape._demo import run_demo


def test_demo_prints_one_table_and_writes_one_figure(tmp_path, capsys):
    results = run_demo(tmp_path, quick=True, n_jobs=1)
    printed = capsys.readouterr().out
    assert printed.count("Results (before") == 1
    for strategy in ("ThresholdReshaper:", "GenerativeReshaper:", "CounterfactualReshaper:"):
        assert strategy in printed
    assert results["figure"] == str(tmp_path / "sklearn_lstm_reshape_demo.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sklearn_lstm_reshape_demo.png"]
    with open(results["figure"], "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert [row["strategy"] for row in results["rows"]] == [
        "ThresholdReshaper",
        "ThresholdReshaper",
        "ThresholdReshaper",
        "GenerativeReshaper",
        "GenerativeReshaper",
        "CounterfactualReshaper",
        "CounterfactualReshaper",
        "CounterfactualReshaper",
    ]
    for row in results["rows"]:  # every row of the table is printed
        assert row["setting"] in printed

    threshold = results["threshold"]
    assert threshold["mae_raw"] > 0 and threshold["mae_best"] > 0
    assert threshold["best_params"]["thresholdreshaper__action"] in ("forecast", "interpolate")
    assert threshold["mae_defaults"] > 0
    # The figure shows the defaults' repair, which brings the series nearer
    # the true readings (0.68 here with --quick's 3 epochs, 0.70 with 30).
    assert threshold["error_ratio_defaults"] < 1
    for report in results["generative"]["reports"].values():
        # Asked for +3 °C on temp_max and temp_min, nothing on the others.
        np.testing.assert_allclose(
            report["condition_gap_before_by_output"], [0, 3, 3, 0], atol=1e-5
        )
        assert np.isfinite(report["condition_gap_after_by_output"]).all()
    counterfactual = results["counterfactual"]["reports"]
    assert list(counterfactual) == [
        "windows, input space (default)",
        "windows, latent space",
        "the held-out days as one series",
    ]
    for report in counterfactual.values():
        assert report["validity_before"] == 0.0 and 0.0 <= report["validity"] <= 1.0
        assert report["l2"] > 0


def test_command_line_writes_the_figure_where_asked(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "sklearn_lstm_reshape._demo.run_demo",
        lambda output, *, quick, n_jobs: calls.append((output, quick, n_jobs)),
    )
    assert main(["demo", "--quick", "--output", str(tmp_path)]) == 0
    assert main(["demo"]) == 0
    assert calls == [(str(tmp_path), True, 2), ("sklearn_lstm_reshape_demo", False, 2)]


def test_command_line_needs_a_command(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "demo" in capsys.readouterr().err
