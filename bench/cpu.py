"""The CPU a benchmark ran on, for the line beside its figures: kernels rank differently on different CPUs,
and a hypervisor may hide the CPU's name behind a family and model number."""
import os
import platform


def cpu_info():
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    info = {}
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    return info


def cpu_model(info=None):
    """The CPU's name, with its family and model numbers: 'AMD EPYC (family 25, model 17)'."""
    info = cpu_info() if info is None else info
    model = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info:
        model += " (family {}, model {})".format(info["cpu family"], info.get("model", "?"))
    return model


def describe_cpu(threads, available):
    """The CPU this run measures: vendor, model, cores available and used, AVX-512."""
    info = cpu_info()
    flags = info.get("flags", "").split()
    avx512 = "yes" if "avx512f" in flags else "no" if flags else "unknown"
    return "CPU: {}, {}, {} cores available, {} used, AVX-512 {}".format(
        cpu_model(info), info.get("vendor_id", "vendor unknown"), available, threads, avx512)
