"""speed.py --profile's side-by-side by what the ops do (bench/op_groups.py): every op the programs run
has its group, and the report names where the project spends more than the twin."""
import os
import sys

import paddle
import pytest

import dc_gan
from conftest import legacy_ir_only

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import op_groups  # noqa: E402


@legacy_ir_only  # the groups name the legacy IR's op types: bench/ measures the fast path, built there
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "plain path"])
def test_every_op_the_training_programs_run_has_a_group_of_its_own(fast):
    paddle.enable_static()
    progs = dc_gan.build_programs(fast=fast)
    training = (progs.d_program, progs.dg_program, progs.g_program)  # as built (the fast one rewritten)
    op_types = {op.type for program in training for op in program.global_block().ops}
    assert {"conv2d_grad", "mul_grad", "adam"} <= op_types
    assert [t for t in sorted(op_types) if op_groups.group_of(t, "paddle") == op_groups.REST] == []


def test_an_op_no_group_names_counts_in_the_rest():
    assert op_groups.group_of("a_new_op", "paddle") == op_groups.REST
    assert op_groups.group_of("aten::a_new_op", "torch") == op_groups.REST


def test_the_same_name_is_looked_up_in_its_own_frameworks_list():
    assert op_groups.group_of("conv2d", "paddle") == "convolutions"
    assert op_groups.group_of("conv2d", "torch") == op_groups.REST
    assert op_groups.group_of("aten::addmm", "torch") == "matrix products"


def test_the_groups_add_up_to_the_wall_time_with_what_the_ops_leave_outside():
    groups = op_groups.grouped({"conv2d": 100.0, "conv2d_grad": 200.0, "adam": 30.0, "odd": 5.0},
                               "paddle", wall_ms=350.0)
    assert groups == {"convolutions": 300.0, "Adam": 30.0, op_groups.REST: 5.0,
                      op_groups.OUTSIDE: pytest.approx(15.0)}
    assert sum(groups.values()) == pytest.approx(350.0)


def test_what_the_frameworks_run_around_the_ops_counts_outside_them():
    assert op_groups.group_of("fetch_v2", "paddle") == op_groups.OUTSIDE
    assert op_groups.group_of("autograd::engine::evaluate_function: AddmmBackward0", "torch") == op_groups.OUTSIDE
    assert op_groups.group_of("AddmmBackward0", "torch") == op_groups.OUTSIDE


def test_paddle_3s_prefixed_op_names_find_their_group():
    assert op_groups.group_of("pd_op.conv2d_grad", "paddle") == "convolutions"
    assert op_groups.group_of("onednn_op.mul", "paddle") == "matrix products"


def test_the_report_names_where_the_project_spends_more_largest_loss_first():
    project = {"convolutions": 400.0, "biases": 30.0, "Adam": 40.0, op_groups.OUTSIDE: 30.0}
    twin = {"convolutions": 450.0, "Adam": 20.0, op_groups.OUTSIDE: 30.0}
    text = op_groups.report(project, twin, timed_ms=(550.0, 500.0))
    # timed 550 against 0.8 x 500: 150 ms to shed; it loses 30 in the biases and 20 in Adam
    assert "shed 150 ms" in text
    assert "(50 ms in all): biases +30, Adam +20" in text
    assert "convolutions -50" not in text
    assert "ratio 1.00 under the profilers" in text


def test_whether_the_project_is_held_back_follows_the_timed_ratio_not_the_profiled_one():
    profiled_within = ({"convolutions": 300.0}, {"convolutions": 400.0})
    assert "shed 20 ms" in op_groups.report(*profiled_within, timed_ms=(420.0, 500.0))
    profiled_behind = ({"convolutions": 500.0}, {"convolutions": 400.0})
    text = op_groups.report(*profiled_behind, timed_ms=(400.0, 500.0))
    assert "at most 0.80" in text
    assert "shed" not in text


def test_groups_of_equal_time_come_in_the_same_order_every_run():
    rows = op_groups.comparison({"b": 0.0, "a": 0.0, "c": 5.0}, {"a": 1.0, "b": 2.0})
    assert [row.group for row in rows] == ["c", "a", "b"]
