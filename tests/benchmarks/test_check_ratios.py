"""The performance guard's rule (benchmarks/check_ratios.py): a speed-up below half its recorded quick value,
a cost ratio above twice it, or a recorded ratio the run did not measure fails; anything else passes."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "check_ratios.py"
spec = importlib.util.spec_from_file_location("check_ratios", SCRIPT)
check_ratios = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_ratios)


def entry(quick, higher_is_better=True):
    return {"quick": quick, "higher_is_better": higher_is_better, "means": "m", "command": "c"}


def test_a_ratio_fails_past_a_factor_of_two_and_passes_within_it():
    recorded = {"speed": entry(10.0), "cost": entry(1.0, higher_is_better=False)}
    assert check_ratios.regressions(recorded, {"speed": entry(5.1), "cost": entry(1.9, False)}) == []
    bad = check_ratios.regressions(recorded, {"speed": entry(4.9), "cost": entry(2.1, False)})
    assert len(bad) == 2 and bad[0].startswith("speed: 4.9 < half") and bad[1].startswith("cost: 2.1 > twice")


def test_a_recorded_ratio_the_run_skipped_fails():
    """A benchmark that skips its peer (librosa, LibEMG, flashlight-text not installed) writes no ratio: the
    guard must say so instead of passing."""
    recorded = {"mel_vs_librosa": entry(1.7), "full_only": {"full": 3.0, "higher_is_better": True, "means": "m",
                                                              "command": "c"}}
    bad = check_ratios.regressions(recorded, {})
    assert len(bad) == 1 and bad[0].startswith("mel_vs_librosa: recorded, not measured")
