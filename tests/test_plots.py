import math

from lab.plots import accuracy_bars
from lab.results import Summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_accuracy_bars_writes_a_png(tmp_path):
    summaries = [
        Summary("reversals", "trained", "icl", 0.9, 0.05, 3, 0.5),
        Summary("reversals", "reversed", "icl", 0.8, 0.1, 3, 0.5),
        Summary("reversals", "trained", "ft", 0.95, 0.02, 3, 0.5),
        Summary("reversals", "reversed", "ft", 0.5, 0.1, 3, 0.5),
        Summary("reversal_curse", "reversed", "ft", 0.25, math.nan, 1, 0.25),  # one seed: no interval
    ]
    path = tmp_path / "figures" / "bars.png"  # the folder does not exist yet
    accuracy_bars(summaries, path, title="test")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000
