"""Plots of keras_preact.training.reporting: training curves and the confusion matrix."""

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


def test_confusion_plot_shows_each_row_in_percent_of_its_class(tmp_path, monkeypatch):
    shown = {}
    write = reporting._write

    def capture(pyplot, figure, path):
        axis = figure.axes[0]
        shown["image"] = axis.get_images()[0].get_array().tolist()
        shown["cells"] = [text.get_text() for text in axis.texts]
        shown["labels"] = [label.get_text() for label in axis.get_yticklabels()]
        return write(pyplot, figure, path)

    monkeypatch.setattr(reporting, "_write", capture)
    path = reporting.plot_confusion([[3, 1], [0, 0]], ["cat", "dog"],
                                    tmp_path / "plots" / "cm.png", "title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A class without images draws an empty row, not a division by zero.
    assert shown["image"] == [[75.0, 25.0], [0.0, 0.0]]
    assert shown["cells"] == ["75.0", "25.0", "0.0", "0.0"]
    assert shown["labels"] == ["cat", "dog"]
    with pytest.raises(ValueError, match="2x2 confusion matrix is needed"):
        reporting.plot_confusion([[1, 2, 3]], ["cat", "dog"], tmp_path / "x.png")
