"""The flags' words and errors: true/false as the Book's scripts took them, one line for a bad flag, and the
configuration printed first, as the Book's scripts printed it."""
import argparse

from dcgan_port.settings import Settings


def str2bool(value):
    """What the Book's scripts accepted (distutils' strtobool)."""
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false (or yes/no, on/off, 1/0), got "
                                     "'{}'".format(value))


# a boolean flag: `--flag`, `--flag true`, `--flag off`, ...
BOOLEAN = dict(type=str2bool, nargs="?", const=True, metavar="true|false")
LARGEST_COUNT = 2 ** 63 - 1  # what a checkpoint stores as a number (int64); a larger one it cannot read back


def as_bytes(text):
    """A text that is not UTF-8, shown as the bytes it came from (a file name's), or its code points."""
    try:
        return ascii(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # not from bytes: a lone surrogate of another range
        return ascii(text)


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, "{}: error: {} (see --help)\n".format(self.prog, message))

    def parse_settings(self, argv, positive, minutes, exclusive=()):
        """The flags as one Settings, knowing which of them were typed (a resumed run takes the others from
        its checkpoint). Refuses, in one line, a count that is not positive (or too large to be recorded),
        minutes below 0 (or nan), both flags of a pair in exclusive set, and a path or URL that is not UTF-8
        (paddle writes and reads only UTF-8 names)."""
        unset = object()
        typed = argparse.Namespace(**{name: unset for name in vars(self.parse_args([]))})
        self.parse_args(argv, namespace=typed)  # flags left out keep `unset`: argparse fills only absent ones
        given = frozenset(name for name, value in vars(typed).items() if value is not unset)
        return Settings(given=given, **vars(self.check(self.parse_args(argv), positive, minutes,
                                                        exclusive)))

    def check(self, args, positive, minutes, exclusive):
        for name in positive:
            value = getattr(args, name)
            if value is not None and not 0 < value <= LARGEST_COUNT:
                self.error("argument --{}: must be a positive whole number up to {}, got {}".format(
                    name, LARGEST_COUNT, value))
        for name in minutes:
            if not getattr(args, name) >= 0:  # also refuses nan
                self.error("argument --{}: must be 0 (off) or a positive number of minutes, got "
                           "{}".format(name, getattr(args, name)))
        for first, second in exclusive:
            if getattr(args, first) not in (None, False) and getattr(args, second) not in (None, False):
                self.error("argument --{}: not allowed with --{}; pass one of them".format(second, first))
        for name, value in vars(args).items():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    self.error("argument --{}: {} is not UTF-8, which paddle needs for its file names; pass "
                               "another".format(name, as_bytes(value)))
        return args


def print_arguments(settings, static_graph):
    """The run's configuration as the Book's scripts printed it (for --generate, only the flags it reads), and
    which of paddle's static graphs builds the programs (dcgan_port.ir_choice): a log says how it was made."""
    print("-----------  Configuration Arguments -----------")
    for name, value in sorted(settings.configuration().items()):
        print("%s: %s" % (name, value))
    print("static graph: %s" % static_graph)
    print("------------------------------------------------", flush=True)
