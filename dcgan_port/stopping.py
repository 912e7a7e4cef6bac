"""How a run stops when asked to. Ctrl-C (SIGINT), SIGTERM (`docker stop`, systemd, Kubernetes, SLURM,
`kill`), SIGHUP (a closed terminal) and a closed standard output (`| head`, a dead ssh) all mean the same:
while training, finish the batch, save everything and exit; at any other moment, stop at once, but for
two that paddle cannot be stopped in (its import, the programs' building), whose end a stop waits for. A
second request stops at once; what was saved last stays whole (files are replaced whole or not at all).
An output that closes after a signal is no second request: Ctrl-C on `dc_gan.py 2>&1 | tee log` stops
tee as well, and a closed terminal sends SIGHUP and then fails every write. The exit status is the
shell's for the signal: 128 + its number."""
import contextlib
import errno
import os
import signal
import sys

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
CLOSED_STDOUT = getattr(signal, "SIGPIPE", 13)  # what a closed pipe would have killed the process with
NOTHING_SAVED = "nothing more was saved"  # a stop outside the training loop


def describe(signum):
    if signum == signal.SIGINT:
        return "Ctrl-C"
    if signum == CLOSED_STDOUT:
        return "its standard output closing"
    return signal.Signals(signum).name


class Stopped(BaseException):
    """Raised where the run must end now; dc_gan.py reports it in one line and exits with status. Not an
    Exception, as KeyboardInterrupt is not: an `except Exception` (paddle's download retries, a check that
    reads a file) must not take a stop for a failure of its own."""

    def __init__(self, signum, what):
        super().__init__("stopped by {}: {}".format(describe(signum), what))
        self.status = 128 + signum


def stop_behind(error):
    """The Stopped that `error` is or stands for, else None. A second request that lands inside the import
    of a compiled module (the first grid loads matplotlib's backend) reaches the caller as the import's
    failure: an ImportError caused by the Stopped."""
    for candidate in (error, error.__cause__):
        if isinstance(candidate, Stopped):
            return candidate
    return None


def say(line):
    """A line about stopping, where the user sees it: stderr, since stdout may be the pipe that closed."""
    print(line, file=sys.stderr, flush=True)


def exit_while_starting(signum, frame):
    with contextlib.suppress(OSError):  # stderr gone with the terminal or the pipe
        os.write(2, "dc_gan.py: stopped by {} while starting; nothing was saved\n".format(
            describe(signum)).encode())
    os._exit(128 + signum)


def hold_while_loading():
    """Until stop_at_once_while_starting, the stop signals wait: paddle puts handlers of its own on them as
    it loads (a dozen lines of C++ stack for SIGTERM), and the threads numpy and paddle start meanwhile
    inherit the wait, so that only this thread ever takes them. The wait is a second or so (longer on a
    first run, while matplotlib lists the fonts). Where the system cannot hold them (Windows), the
    handlers are put in at once."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    else:
        stop_at_once_while_starting()


def stop_at_once_while_starting():
    """While dc_gan.py starts (seconds, and nothing to save yet), a stop ends the process at once with one
    line: raised inside paddle's initialisation, KeyboardInterrupt gave 25 lines instead. A stop held
    while paddle loaded lands here."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, exit_while_starting)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class OutputGuard:
    """An output stream that, when it can no longer be written (its reader gone: a broken pipe; its
    terminal gone: EIO), sends the rest to the null device and calls on_close once, instead of raising
    from whichever print came next."""

    def __init__(self, stream, on_close=None):
        self.stream, self.on_close, self.gone = stream, on_close, False

    def _guarded(self, method, *args):
        try:
            return getattr(self.stream, method)(*args)
        except OSError as error:
            if not isinstance(error, BrokenPipeError) and error.errno not in (errno.EIO, errno.ENXIO):
                raise
            if not self.gone:
                self.gone = True
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())  # what is still buffered drains there
                os.close(devnull)
                if self.on_close is not None:
                    self.on_close(CLOSED_STDOUT)
            return None

    def write(self, text):
        return self._guarded("write", text)

    def flush(self):
        return self._guarded("flush")

    def __getattr__(self, name):
        return getattr(self.stream, name)


class StopRequests:
    """Installed for the whole of dc_gan.py's main(): every way of asking to stop comes here."""

    def __init__(self):
        self.signum = None  # the request being honoured at the end of the batch
        self.deferring = self.holding = False

    def __enter__(self):
        self._previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        self._outputs = sys.stdout, sys.stderr
        sys.stdout = OutputGuard(sys.stdout, self.request)
        sys.stderr = OutputGuard(sys.stderr)  # where the lines about stopping go: never a request
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():  # after the run, no longer "while starting"
            signal.signal(signum, signal.SIG_DFL if handler is exit_while_starting else handler)
        sys.stdout, sys.stderr = self._outputs

    def _on_signal(self, signum, frame):
        self.request(signum)

    def request(self, signum):
        if signum == CLOSED_STDOUT and self.requested:
            return
        if self.holding:
            self.signum = self.signum or signum
            return
        if self.deferring and self.signum is None:
            self.signum = signum
            say("stopping after this batch to save everything (a second {} stops at once)".format(
                "Ctrl-C" if signum == signal.SIGINT else "signal"))
            return
        raise Stopped(signum, "the last complete save is kept" if self.deferring else NOTHING_SAVED)

    @property
    def requested(self):
        return self.signum is not None

    @contextlib.contextmanager
    def held(self):
        """Within it, a request waits for its end, then stops the run. In PIR, paddle builds ops in C++ that
        calls back into Python (its call-stack recorder), where signal handlers run too, and an exception
        raised there crashes paddle (a SystemError, or a segfault)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.requested:
            raise Stopped(self.signum, NOTHING_SAVED)

    @contextlib.contextmanager
    def finish_batch_first(self):
        """Within it (training), the first request is honoured at the end of the batch."""
        self.deferring = True
        try:
            yield self
        finally:
            self.deferring = False

    def honoured(self, output):
        """What ends a run that honoured the request, everything saved in output."""
        return Stopped(self.signum, "everything is saved in {}; continue with: python dc_gan.py --resume "
                       "--output {}".format(output, output))
