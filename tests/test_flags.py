"""The chapter's configuration and flags (dc_gan.py, with dcgan_port.command_line's words and errors)."""
import re

import pytest

import dc_gan
from dcgan_port.command_line import print_arguments


def test_chapter_defaults_and_true_false_flags():
    args = dc_gan.parse_args([])
    assert (args.batch_size, args.epoch, args.output) == (128, 20, "./output_dcgan")
    assert not args.use_gpu and not args.enable_ce and not args.raw_logits and not args.resume
    args = dc_gan.parse_args(["--use_gpu", "True", "--enable_ce", "false", "--resume"])
    assert args.use_gpu is True and args.enable_ce is False and args.resume is True


@pytest.mark.parametrize("word, value", [(w, True) for w in ("y", "yes", "t", "true", "on", "1", "ON")]
                         + [(w, False) for w in ("n", "no", "f", "false", "off", "0", "Off")])
def test_boolean_flags_take_every_word_the_books_strtobool_took(word, value):
    assert dc_gan.parse_args(["--raw_logits", word]).raw_logits is value


def test_the_configuration_is_printed_first_flag_by_flag_as_the_books_scripts_did(capsys):
    with pytest.raises(SystemExit):
        dc_gan.parse_args(["--help"])
    flags = set(re.findall(r"--(\w+)", capsys.readouterr().out)) - {"help"}
    args = dc_gan.parse_args(["--epoch", "3", "--raw_logits", "on"])
    print_arguments(args, static_graph="PIR (why)")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "-----------  Configuration Arguments -----------"
    assert lines[-1] == "-" * 48
    assert lines[-2] == "static graph: PIR (why)"  # which of paddle's IRs builds the programs
    names = [name for name, _ in (line.split(": ", 1) for line in lines[1:-2])]
    assert names == sorted(flags)  # every flag, and nothing that is not one
    assert "epoch: 3" in lines and "raw_logits: True" in lines


def test_generate_prints_only_the_flags_that_change_what_it_draws(capsys):
    print_arguments(dc_gan.parse_args(["--generate", "64", "--output", "run"]), static_graph="the legacy IR")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:-2] == ["generate: 64", "num_threads: {}".format(dc_gan.parse_args([]).num_threads),
                           "onednn: True", "output: run", "use_gpu: False"]


def test_the_settings_know_which_flags_were_typed():
    settings = dc_gan.parse_args(["--epoch", "3", "--output", "somewhere", "--resume"])
    assert settings.given == {"epoch", "output", "resume"}
    assert dc_gan.parse_args([]).given == frozenset()
