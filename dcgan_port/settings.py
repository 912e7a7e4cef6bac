"""The run's settings: the flags, read once into one frozen object. A resumed run takes its own settings
from its checkpoint, so that `--resume --output DIR` continues the run as it was started."""
import dataclasses
import os
from typing import FrozenSet, Optional

from dcgan_port.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Settings:
    batch_size: int
    epoch: int
    output: str
    use_gpu: bool
    enable_ce: bool
    use_cudnn: bool
    raw_logits: bool
    resume: bool
    overwrite: bool
    num_threads: int
    onednn: bool
    save_every_minutes: float
    max_batches: Optional[int]
    data_dir: Optional[str]
    mnist_split: str
    mnist_url: str
    generate: Optional[int]
    given: FrozenSet[str] = frozenset()  # the flags typed on the command line, not left at their default

    def flags(self):
        """The settings by flag name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "given"}

    def configuration(self):
        """The settings that shape this run by flag name, as the configuration block prints them: every flag
        for training, only what --generate reads for drawing."""
        flags = self.flags()
        return flags if self.generate is None else {name: flags[name] for name in DRAWING_SETTINGS}


# What --generate reads of the settings; the others (the training's) do not change what it draws.
DRAWING_SETTINGS = ("generate", "output", "use_gpu", "num_threads", "onednn")

# What a checkpoint records of the run that wrote it, and --resume takes back. Two may be given again with
# another value: --epoch sets the new total, and --data_dir says where the data is now (a moved folder, a
# container's mount), whose fingerprint must still be the run's (TrainingRun.check_same_data).
NEW_VALUE_ALLOWED = ("epoch", "data_dir")
RUN_SETTINGS = ("batch_size", "epoch", "max_batches", "raw_logits", "enable_ce", "mnist_split",
                "data_dir")


def recorded(settings):
    """The run settings as a checkpoint stores them: numpy-friendly, no None."""
    record = {name: getattr(settings, name) for name in RUN_SETTINGS}
    record["max_batches"] = record["max_batches"] or 0  # 0: every batch (the flag must be positive)
    record["data_dir"] = os.path.abspath(record["data_dir"]) if record["data_dir"] else ""
    return record


def from_record(record):
    """The run settings back from what recorded() stored; a checkpoint of an earlier version records only
    some of them."""
    values = dict(record)
    if "max_batches" in values:
        values["max_batches"] = int(values["max_batches"]) or None
    if "data_dir" in values:
        values["data_dir"] = str(values["data_dir"]) or None
    return values


def shown(value):
    return "(none)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def resumed(settings, saved):
    """The settings of the run being resumed: its recorded ones, with --epoch and --data_dir as given. A
    recorded setting given again with another value is refused, all of them in one line."""
    differing = ["--{} {} (this run's: {})".format(name, shown(getattr(settings, name)), shown(value))
                 for name, value in saved.items()
                 if name not in NEW_VALUE_ALLOWED and name in settings.given
                 and getattr(settings, name) != value]
    if differing:
        raise UsageError("--resume continues the run in {} with its own settings, and {} differ{}; "
                         "leave {} out".format(settings.output, ", ".join(differing),
                                               "s" if len(differing) == 1 else "",
                                               "it" if len(differing) == 1 else "them"))
    taken = {name: value for name, value in saved.items()
             if not (name in NEW_VALUE_ALLOWED and name in settings.given)}
    return dataclasses.replace(settings, **taken)
