"""The whole-script benchmark's arithmetic (bench/script_speed.py), on timings whose answer is known."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import script_speed  # noqa: E402


def times(short_seconds=20.0, long_seconds=50.0, saving_seconds=110.0, saves=30):
    return script_speed.ScriptTimes(short_seconds, long_seconds, saving_seconds, saves, short=11, long=41)


def test_the_iteration_is_the_longer_runs_extra_time_over_its_extra_batches():
    # start-up, data and the closing save cost the same in both runs and cancel
    assert times().per_iteration() == pytest.approx(1.0)
    assert times(short_seconds=35.0).per_iteration() == pytest.approx(0.5)


def test_a_save_costs_the_saving_runs_extra_time_over_its_saves():
    assert times().per_save() == pytest.approx(2.0)


def test_a_save_every_ten_minutes_adds_its_share_to_each_iteration():
    # 2 s of saving per 600 s of training: 1/300 more
    assert times().per_iteration_with_saves() == pytest.approx(1.0 * (1 + 2.0 / 600))
    assert times().per_iteration_with_saves(save_every_seconds=2.0) == pytest.approx(2.0)


def test_the_report_gives_the_script_beside_the_inner_step():
    text = script_speed.report(times(), step_seconds=0.5)
    assert "1000 ms/iteration" in text
    assert "one checkpoint save: 2.00 s (30 saves)" in text
    assert "ratio whole script/inner step: 2.01" in text


def test_the_saving_run_is_recognised_by_dc_gans_own_save_line():
    with open(os.path.join(script_speed.PROJECT, "dcgan_port", "run_folder.py")) as f:
        assert 'print("' + script_speed.SAVED_LINE in f.read()
