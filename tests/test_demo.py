"""The demo runs end to end on the bundled data and writes its figure."""

from sklearn_lstm_reshape.__main__ import main
from sklearn_lstm_reshape._demo import run_demo


def test_demo_prints_its_table_and_writes_its_figure(tmp_path, capsys):
    results = run_demo(tmp_path, quick=True, n_jobs=1)
    printed = capsys.readouterr().out
    for line in (
        "Candidates, best first",
        "MAE without reshaping",
        "MAE with reshaping",
        "Before/after plot",
    ):
        assert line in printed
    png = tmp_path / "threshold_repair.png"
    assert results["figure"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(results["candidates"]) == 4
    assert all(c["rows_flagged"] > 0 for c in results["candidates"])
    assert results["mae_raw"] > 0 and results["candidates"][0]["mae"] > 0


def test_command_line_needs_a_command(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main([])
    assert "demo" in capsys.readouterr().err
