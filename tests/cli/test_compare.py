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


def test_a_run_still_training_shows_its_last_validation(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    done = _run(tmp_path / "done", "resnet20", [60, 40, 30, 20], 9.5)
    running = _run(tmp_path / "running", "unused", [55, 35, 25], None)
    (running / "summary.json").unlink()
    # Caught while swapping in its new checkpoint: only checkpoint.old/ is complete.
    (running / "checkpoint.old").mkdir()
    (running / "checkpoint.old" / "state.json").write_text(json.dumps(
        {"epoch": 3, "config": {"model": "preact_resnet164"}}))
    # A checkpoint copied alone (weights/in_progress/<name>/) reads its history from it.
    kept = tmp_path / "in_progress"
    (kept / "checkpoint").mkdir(parents=True)
    (kept / "checkpoint" / "state.json").write_text(json.dumps(
        {"epoch": 2, "config": {"model": "resnet56"},
         "history": json.loads((running / "history.json").read_text())[:2]}))
    snap = _run(tmp_path / "snap", "preact_resnet20", [50, 30], None)
    (snap / "summary.json").write_text(json.dumps(
        {"model": "preact_resnet20", "status": "snapshot", "test": {"top1_error": 28.0}}))
    out = tmp_path / "three.png"
    assert cli.main(["compare", str(done), str(running), str(snap), str(kept),
                     "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resnet20: 4 epochs, test top-1 error 9.50%" in printed
    # Validation rows are the odd epochs (index 1): epoch 2 at 1 - 0.65 + 0.02.
    assert "preact_resnet164: 3 epochs, running, last validation (epoch 2) top-1 error " \
        "37.00%" in printed
    assert "preact_resnet20: 2 epochs, snapshot, last validation (epoch 2) top-1 error " \
        "32.00%" in printed
    assert "resnet56: 2 epochs, running, last validation (epoch 2) top-1 error 37.00%" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_published_weight_set_compares_like_its_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = _run(tmp_path / "run", "resnet56", [60, 40, 30, 20], 9.5)
    published = _run(tmp_path / "preact_resnet56.cifar10", "preact_resnet56", [55, 35, 25],
                     8.59)
    (published / "summary.json").rename(published / "training.json")
    out = tmp_path / "pair.png"
    assert cli.main(["compare", str(run), str(published), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "preact_resnet56: 3 epochs, test top-1 error 8.59%" in printed
    (published / "history.json").unlink()  # sets published before histories shipped
    assert cli.main(["compare", str(run), str(published), "--output", str(out)]) == 2
    assert "nor a weight set that ships its history" in capsys.readouterr().err


def test_refuses_folders_without_a_run_and_duplicate_labels(tmp_path, capsys):
    a = _run(tmp_path / "a", "resnet20", [50, 40], 9.0)
    (tmp_path / "empty").mkdir()
    assert cli.main(["compare", str(a), str(tmp_path / "empty")]) == 2
    assert "not a keras-preact train output" in capsys.readouterr().err
    assert cli.main(["compare", str(a), str(a)]) == 2
    assert "same label" in capsys.readouterr().err


def test_plot_comparison_without_test_points(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"epoch": 1, "accuracy": 0.5, "loss": 1.0}, {"epoch": 2, "accuracy": 0.6, "loss": 0.8}]
    assert reporting.plot_comparison({"x": rows}, tmp_path / "p.png").is_file()
