"""Training curves (keras_preact.training.reporting.plot_history)."""

import pytest

from keras_preact.training import reporting

pytest.importorskip("matplotlib")


def test_test_points_show_when_only_some_epochs_are_evaluated(tmp_path, monkeypatch):
    # --eval-every 2: val_* only at even epochs. The test curve must hold those points
    # (a line through the NaN of the other epochs would draw nothing at all).
    rows = [{"epoch": e, "loss": 2.0 / e, "accuracy": 0.1 * e, "lr": 0.1,
             **({"val_loss": 1.0 / e, "val_accuracy": 0.1 * e - 0.05} if e % 2 == 0 else {})}
            for e in range(1, 6)]
    drawn = {}
    save = reporting._save

    def capture(pyplot, figure, axes, path, title):
        for axis in axes:
            for line in axis.get_lines():
                drawn[(axis.get_ylabel(), line.get_label())] = (
                    list(line.get_xdata()), list(line.get_ydata()), line.get_marker())
        return save(pyplot, figure, axes, path, title)

    monkeypatch.setattr(reporting, "_save", capture)
    path = reporting.plot_history(rows, tmp_path / "curves.png", "run")
    assert path.is_file() and path.stat().st_size > 1000
    epochs, errors, marker = drawn[("top-1 error (%)", "test")]
    assert epochs == [2, 4] and errors == pytest.approx([85.0, 65.0]) and marker == "o"
    assert drawn[("loss", "test")][0] == [2, 4]
    assert drawn[("top-1 error (%)", "train (augmented)")][0] == [1, 2, 3, 4, 5]
