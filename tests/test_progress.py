"""The progress bar's line: done/total, a speed that stays readable for slow work, and ETA."""
import io

from skelgen.progress import Progress, _speed


def test_speed_reads_well_fast_and_slow():
    assert _speed(12.34, "steps") == "12.3 steps/s"
    assert _speed(0.02, "runs") == "50.0 s/run"  # not "0.0 runs/s"


def test_bar_draws_done_total_and_metrics():
    out = io.StringIO()
    with Progress(4, "train", "steps", stream=out) as bar:
        bar.update(0)  # shown before the first step ends
        assert "train [------------------------] 0/4 0:00 so far" in out.getvalue()  # no rate yet
        bar.update(4, loss=0.5)
    assert "train [########################] 4/4" in out.getvalue() and "loss 0.5" in out.getvalue()
    assert out.getvalue().endswith("\n")
