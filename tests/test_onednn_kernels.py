"""The fast CPU path runs on oneDNN's kernels the ops it names (fast_cpu.ONEDNN_OPS) and the product its
rewrite writes (fast_gradients.ONEDNN_PRODUCT), every other op on paddle's own CPU kernels, as paddle's own
kernel log reports what it ran. Where this paddle builds or registers an op otherwise than the
fast path was written for, the fast path is not taken: one line says what is missing, nothing of the
programs it was given is changed, and the run trains on the chapter's programs."""
import collections
import os
import re
import subprocess
import sys
import types

import paddle
import pytest

import dc_gan
from conftest import ROOT, fast_forms_as_built, legacy_ir_only
from dcgan_port import fast_cpu, fast_gradients
from dcgan_port.ir_choice import FLAG

TRAINING_PROGRAMS = ("d_program", "dg_program", "g_program")

# Builds the programs with build_programs(fast=...) (argv[1]: "fast" or "plain") and runs each training
# program once (paddle chooses each op's kernel on a program's first run), announcing each on stderr, where
# paddle logs; prints each program's ops as type/role (b: backward, f: the rest).
RUN_EACH_TRAINING_PROGRAM_ONCE = """
import os, sys
import numpy as np
import dc_gan, paddle
from dcgan_port.fast_gradients import OP_ROLE
BACKWARD = int(paddle.base.core.op_proto_and_checker_maker.OpRole.Backward)
paddle.enable_static()
progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED, fast=sys.argv[1] == "fast")
print("fast" if progs.fast else "plain")
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(progs.startup)
noise = {"noise": dc_gan.uniform_noise(8)}
real = {"img": np.zeros((8, 784), "float32"), "label": np.ones((8, 1), "float32")}
for name, feed in (("d_program", real), ("dg_program", noise), ("g_program", noise)):
    program = getattr(progs, name)
    print(name, " ".join("{}/{}".format(op.type, "b" if int(op.attr(OP_ROLE)) & BACKWARD else "f")
                         for op in program.global_block().ops), flush=True)
    os.write(2, ("program " + name + "\\n").encode())
    exe.run(program, feed=feed)
"""
# paddle's log of the kernel it chooses for each op (operator.cc, VLOG 6): the op's type and its kernel's
# backend, or that no kernel was found for the key (then paddle may run another: "unknown")
OP_TYPE = re.compile(r"op type:(\w+), expected_kernel_key:.*library_type\[(\w+)\]")
KERNEL = re.compile(r"ChoosePhiKernel - kernel name: \S+ \| kernel key: \((\w+),")
NO_KERNEL = re.compile(r"ChoosePhiKernel - kernel `\S+` not found")


def kernels_run(stderr):
    """{program: [(op type, backend), ...]} as paddle's kernel log reports them, op by op."""
    runs, program = collections.defaultdict(list), None
    for line in stderr.splitlines():
        if line.startswith("program "):
            program = line.split()[1]
        elif program and OP_TYPE.search(line):
            op_type, library = OP_TYPE.search(line).groups()
            runs[program].append([op_type, "ONEDNN" if library in ("MKLDNN", "ONEDNN") else "CPU"])
        elif program and KERNEL.search(line):
            runs[program][-1][1] = KERNEL.search(line).group(1)
        elif program and NO_KERNEL.search(line):
            runs[program][-1][1] = "unknown"
    return {name: [tuple(op) for op in ops] for name, ops in runs.items()}


def run_each_training_program_once(path):
    """What paddle ran, op by op, and each training program's ops (type, backward?), built in the legacy IR
    (the fast path's own) whatever this process's graph."""
    env = dict(os.environ, PYTHONPATH=ROOT, GLOG_minloglevel="0", GLOG_vmodule="operator=6")
    env[FLAG] = "0"
    result = subprocess.run([sys.executable, "-c", RUN_EACH_TRAINING_PROGRAM_ONCE, path], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == path, result.stdout
    built = {line.split()[0]: [(op.split("/")[0], op.endswith("/b")) for op in line.split()[1:]]
             for line in lines[1:]}
    return kernels_run(result.stderr), built


needs_onednn = pytest.mark.skipif(not fast_cpu.onednn_available(), reason="this paddle has no oneDNN on "
                                  "this machine: the fast path is not taken")


def onednn_or_cpu(op_type, backward):
    """Where the fast path means an op of the training programs to run."""
    on_onednn = (op_type in fast_cpu.ONEDNN_OPS
                 or (op_type == fast_gradients.ONEDNN_PRODUCT and backward))  # the rewrite's product
    return "ONEDNN" if on_onednn else "CPU"


@needs_onednn
def test_the_fast_path_runs_the_ops_it_names_on_onednn_and_every_other_on_paddles_kernels():
    ran, built = run_each_training_program_once("fast")
    for name in TRAINING_PROGRAMS:
        types = {op_type for op_type, _ in built[name]}
        expected = collections.Counter((op_type, onednn_or_cpu(op_type, backward))
                                       for op_type, backward in built[name])
        # each op of the program ran once, on the kernels meant (ops paddle adds between them left out)
        assert collections.Counter(op for op in ran[name] if op[0] in types) == expected, name
    assert set(fast_cpu.ONEDNN_OPS) <= {op_type for name in TRAINING_PROGRAMS for op_type, _ in built[name]}
    assert (fast_gradients.ONEDNN_PRODUCT, "ONEDNN") in ran["dg_program"]


def test_the_plain_path_runs_nothing_on_onednn():
    ran, _ = run_each_training_program_once("plain")
    assert sorted(ran) == sorted(TRAINING_PROGRAMS)
    assert [(name, op) for name in TRAINING_PROGRAMS for op in ran[name] if op[1] != "CPU"] == []


# Paddles other than this one, as the fast path would find them: each patches one of paddle's functions.
Operator, OpProtoHolder = paddle.base.framework.Operator, paddle.base.framework.OpProtoHolder


def without_a_onednn_switch(op_type):
    def patch(monkeypatch):
        real = paddle.base.core.get_op_extra_attrs
        monkeypatch.setattr(paddle.base.core, "get_op_extra_attrs", lambda asked: {
            name: value for name, value in real(asked).items()
            if asked != op_type or name not in fast_gradients.ONEDNN_SWITCHES})
    return patch


def without_a_slot(op_type, slot):
    def patch(monkeypatch):
        real = Operator.input_names
        monkeypatch.setattr(Operator, "input_names", property(
            lambda op: [name for name in real.fget(op) if op.type != op_type or name != slot]))
    return patch


def without_an_attribute(op_type, attribute):
    def patch(monkeypatch):
        real = Operator.has_attr
        monkeypatch.setattr(Operator, "has_attr",
                            lambda op, name: (op.type != op_type or name != attribute) and real(op, name))
    return patch


def registered_without_an_attribute(op_type, attribute):
    def patch(monkeypatch):
        real = OpProtoHolder.get_op_proto

        def get_op_proto(holder, asked):
            proto = real(holder, asked)
            if asked != op_type:
                return proto
            return types.SimpleNamespace(inputs=proto.inputs, outputs=proto.outputs,
                                         attrs=[each for each in proto.attrs if each.name != attribute])
        monkeypatch.setattr(OpProtoHolder, "get_op_proto", get_op_proto)
    return patch


def unregistered(op_type):
    def patch(monkeypatch):
        real = OpProtoHolder.get_op_proto

        def get_op_proto(holder, asked):
            if asked == op_type:
                raise ValueError('Operator "{}" has not been registered.'.format(asked))
            return real(holder, asked)
        monkeypatch.setattr(OpProtoHolder, "get_op_proto", get_op_proto)
    return patch


BUILT_OTHERWISE = {
    "leaky_relu without a oneDNN switch": (without_a_onednn_switch("leaky_relu"),
                                           "leaky_relu has no attribute use_onednn or use_mkldnn"),
    "conv2d_grad without its Output@GRAD slot": (without_a_slot("conv2d_grad", "Output@GRAD"),
                                                 "conv2d_grad has no input Output@GRAD"),
    "conv2d_grad without padding_algorithm": (without_an_attribute("conv2d_grad", "padding_algorithm"),
                                              "conv2d_grad has no attribute padding_algorithm"),
}
NOTE = "note: paddle {} is not as the fast CPU path expects (".format(paddle.__version__)
CHAPTERS = "training the chapter's programs on paddle's own CPU kernels"


def op_types(progs):
    return {name: [op.type for op in getattr(progs, name).global_block().ops] for name in TRAINING_PROGRAMS}


@legacy_ir_only
@pytest.mark.parametrize("another_paddle, missing", BUILT_OTHERWISE.values(), ids=BUILT_OTHERWISE.keys())
def test_where_paddle_builds_otherwise_the_chapters_programs_are_built_saying_what_is_missing(
        monkeypatch, capsys, another_paddle, missing):
    chapters = op_types(dc_gan.build_programs())
    another_paddle(monkeypatch)
    progs = dc_gan.build_programs(fast=True)
    lines = capsys.readouterr().out.splitlines()
    assert not progs.fast and op_types(progs) == chapters
    assert len(lines) == 1 and lines[0].startswith(NOTE) and missing in lines[0] and CHAPTERS in lines[0]


@legacy_ir_only
def test_programs_the_fast_path_does_not_expect_are_left_as_they_were(monkeypatch, capsys):
    progs = fast_forms_as_built(monkeypatch)
    training = [getattr(progs, name) for name in TRAINING_PROGRAMS]
    before = [program.desc.serialize_to_string() for program in training]
    without_a_slot("conv2d_grad", "Output@GRAD")(monkeypatch)
    assert fast_cpu.switched_to_onednn(*training) is False
    assert [program.desc.serialize_to_string() for program in training] == before
    assert capsys.readouterr().out.count(NOTE) == 1


@legacy_ir_only
@needs_onednn
@pytest.mark.parametrize("another_paddle, missing", [
    (unregistered("fold"), "fold is not registered"),
    (registered_without_an_attribute("fold", "kernel_sizes"), "fold has no attribute kernel_sizes")],
                         ids=["fold unregistered", "fold without kernel_sizes"])
def test_the_ops_the_fast_path_writes_are_checked_before_it_is_chosen(monkeypatch, capsys, another_paddle,
                                                                      missing):
    """fast_cpu.wanted, which dc_gan.train asks before anything is built."""
    another_paddle(monkeypatch)
    assert fast_cpu.wanted(True, False, 2) is False
    out = capsys.readouterr().out
    assert out.count(NOTE) == 1 and missing in out


@legacy_ir_only
@needs_onednn
def test_this_paddle_is_as_the_fast_path_expects(capsys):
    assert fast_cpu.wanted(True, False, 2) is True
    assert dc_gan.build_programs(fast=True).fast is True
    assert capsys.readouterr().out == ""


@legacy_ir_only
@needs_onednn
def test_a_run_on_a_paddle_the_fast_path_does_not_know_trains_the_chapters_programs_and_saves(
        tiny_mnist, tmp_path, monkeypatch, capsys):
    without_a_onednn_switch("mul")(monkeypatch)
    with paddle.static.scope_guard(paddle.static.Scope()):
        status = dc_gan.main(["--data_dir", str(tiny_mnist), "--batch_size", "32", "--epoch", "1",
                              "--max_batches", "1", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.count(NOTE) == 1 and "mul has no attribute" in out
    assert "Epoch ID=0 Batch ID=0 " in out
    assert os.path.isfile(tmp_path / "checkpoint.npz")
