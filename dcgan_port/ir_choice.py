"""Which of Paddle's two static graphs builds the chapter's programs: the legacy IR (ProgramDesc) or PIR,
Paddle 3's default. Paddle reads its switch, FLAGS_enable_pir_api, from the environment once, when it is
imported; so the choice is made before that, without importing paddle. The user's own setting is honoured;
left unset, the legacy IR where this port knows paddle has it (the fast CPU path needs it,
dcgan_port.fast_cpu), else PIR."""
import importlib.metadata
import re
from typing import NamedTuple, Optional

from dcgan_port.command_line import str2bool
from dcgan_port.errors import UsageError

FLAG = "FLAGS_enable_pir_api"
# The newest paddle this port has trained in the legacy IR; on a later one the legacy IR may be gone.
LAST_KNOWN_WITH_LEGACY_IR = (3, 3, 1)
PADDLE_DISTRIBUTIONS = ("paddlepaddle", "paddlepaddle-gpu")


class Choice(NamedTuple):
    pir: bool
    described: str  # for the printed configuration: the IR and why
    note: Optional[str] = None  # a line to say once
    error: Optional[str] = None  # the choice cannot work: the one-line error


def installed_paddle_version():
    """The installed paddle's version, read from its package's metadata (None: no paddle package)."""
    for distribution in PADDLE_DISTRIBUTIONS:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def release(version):
    """(major, minor, patch) of a version string; a development build's 0.0.0 is newer than any release."""
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
    return (float("inf"),) * 3 if numbers[0] == 0 else tuple(numbers[:3])


def name(pir):
    return "PIR" if pir else "the legacy IR"


def choose(value, version):
    """The IR for FLAGS_enable_pir_api's value in the environment (None: unset) on paddle `version` (None:
    not known)."""
    if value is not None and value.strip():
        try:
            pir = str2bool(value.strip())
        except Exception:
            return Choice(False, "", error="{}={!r} is neither true nor false for paddle; set it to 1 (PIR) "
                                           "or 0 (the legacy IR), or unset it".format(FLAG, value))
        described = "{} ({}={} in the environment)".format(name(pir), FLAG, value)
        if pir and version and release(version)[0] < 3:
            return Choice(pir, described, error="{}={} asks for PIR, in which paddlepaddle {} cannot train "
                                                "this chapter; unset it, or install paddlepaddle 3".format(
                                                    FLAG, value, version))
        return Choice(pir, described)
    if not version or release(version) <= LAST_KNOWN_WITH_LEGACY_IR:
        return Choice(False, "the legacy IR (this port's default on paddlepaddle {}; {}=1 "
                             "asks for PIR)".format(version or "of an unknown version", FLAG))
    newest = ".".join(map(str, LAST_KNOWN_WITH_LEGACY_IR))
    return Choice(True, "PIR (paddlepaddle {} is newer than {})".format(version, newest),
                  note="note: paddlepaddle {} is newer than {}, the last known to keep the legacy IR: "
                       "building the programs in PIR ({}=0 asks for the legacy IR)".format(
                           version, newest, FLAG))


def choose_for_this_process(environ):
    """Make the choice for the environment paddle is about to be imported in; tell paddle where the user
    has not."""
    value = environ.get(FLAG)
    choice = choose(value, installed_paddle_version())
    if not (value or "").strip() and not choice.error:
        environ[FLAG] = "1" if choice.pir else "0"
    return choice


def check_paddle_agrees(choice, pir_in_use):
    """After import: the legacy IR asked for where paddle has dropped it cannot work."""
    if choice.error or choice.pir == pir_in_use:
        return choice
    return choice._replace(error="{} was asked for, and paddlepaddle {} no longer has it; unset {}".format(
        choice.described, installed_paddle_version(), FLAG))


def check(choice):
    """Before the programs are built: the one-line error of a choice that cannot work, or its note."""
    if choice.error:
        raise UsageError(choice.error)
    if choice.note:
        print(choice.note)
