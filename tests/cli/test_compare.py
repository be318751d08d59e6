"""`keras-preact compare` and `reporting.plot_comparison`, on synthetic run folders."""

import json

import pytest

from keras_preact import cli

from keras_preact.training import reporting


def _run(folder, model, errors, test_error):
    folder.mkdir()
    rows = [{"epoch": e + 1, "accuracy": 1 - err / 100, "loss": err / 50,
             "val_accuracy": (1 - err / 100 - 0.02) if e % 2 else None}
            for e, err in enumerate(errors)]
    (folder / "history.json").write_text(json.dumps(rows))
    (folder / "summary.json").write_text(json.dumps(
        {"model": model, "test": {"top1_error": test_error}}))
    return folder


def test_compares_two_runs_in_one_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a = _run(tmp_path / "a", "resnet20", [60, 40, 30, 20], 9.5)
    b = _run(tmp_path / "b", "preact_resnet20", [55, 35, 25, 18], 8.9)
    out = tmp_path / "pair.png"
    assert cli.main(["compare", str(a), f"pre-act={b}", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resnet20: 4 epochs, test top-1 error 9.50%" in printed
    assert "pre-act: 4 epochs, test top-1 error 8.90%" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(out).size == (1100, 400)


def test_refuses_unfinished_runs_and_duplicate_labels(tmp_path, capsys):
    a = _run(tmp_path / "a", "resnet20", [50, 40], 9.0)
    (tmp_path / "empty").mkdir()
    assert cli.main(["compare", str(a), str(tmp_path / "empty")]) == 2
    assert "not a finished keras-preact train output" in capsys.readouterr().err
    assert cli.main(["compare", str(a), str(a)]) == 2
    assert "same label" in capsys.readouterr().err


def test_plot_comparison_without_test_points(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"epoch": 1, "accuracy": 0.5, "loss": 1.0}, {"epoch": 2, "accuracy": 0.6, "loss": 0.8}]
    assert reporting.plot_comparison({"x": rows}, tmp_path / "p.png").is_file()
