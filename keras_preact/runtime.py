"""The process settings that decide CPU training speed, made before a backend loads.

This module imports neither Keras nor a backend: `keras_preact/__init__.py` runs
`configure()` before its first `import keras`, because TensorFlow reads its oneDNN switch
once, when it is imported.

- **oneDNN on.** TensorFlow's x86 wheels turn oneDNN (Intel's kernel library, which also
  runs on AMD) on by default only where the CPU has AVX-512 VNNI, AVX-512 BF16 or AMX.
  Elsewhere convolutions and batch norm run on Eigen kernels. Measured on a 2-core AMD
  EPYC (Zen 3, AVX2, no AVX-512), PreActResNet-164 training with the fused batch norm of
  `keras_preact.layers.BatchNormalization`: 24 images/s with TensorFlow's default, 53
  with oneDNN (see benchmarks/README.md). `configure()` therefore sets
  `TF_ENABLE_ONEDNN_OPTS=1` unless the user set it (their value wins) or TensorFlow is
  already imported (then it is too late; `onednn_enabled()` says what the process got).
- **bfloat16 only where native.** `native_bfloat16_cpu()` reads the CPU flags: AVX-512
  BF16 or AMX-BF16. Without them bfloat16 is emulated and roughly 10x slower (measured:
  5 vs 53 images/s), so `--mixed-precision auto` keeps float32 there.

Threads: TensorFlow's defaults (intra-op = inter-op = cores) are kept; on 2 cores an
inter-op pool of 1 or 2 measured the same (52.5 vs 50.8 images/s). Set
`TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS` to pin a run to fewer cores.
"""

import os
import pathlib
import platform
import sys

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def _cpuinfo_field(keys, cpuinfo):
    """The value of the first line of `cpuinfo` whose key is in `keys`, or None (also
    where the file does not exist: macOS, Windows)."""
    path = pathlib.Path(cpuinfo)
    if not path.is_file():
        return None
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            return value.strip()
    return None


def _x86():
    return platform.machine().lower() in ("x86_64", "amd64")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The instruction-set flags of the first CPU listed in `cpuinfo` (Linux); an empty
    frozenset where that file does not exist (macOS, Windows)."""
    return frozenset((_cpuinfo_field(("flags", "Features"), cpuinfo) or "").split())


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name (Linux /proc/cpuinfo), else `platform.processor()`."""
    return (_cpuinfo_field(("model name",), cpuinfo) or platform.processor()
            or platform.machine())


def native_bfloat16_cpu(flags=None):
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def configure():
    """Turns TensorFlow's oneDNN kernels on for this process, unless the user chose
    otherwise in `TF_ENABLE_ONEDNN_OPTS` or TensorFlow is already imported.

    Returns:
        True if this call set the variable.
    """
    if ONEDNN_VARIABLE in os.environ or "tensorflow" in sys.modules or not _x86():
        return False
    os.environ[ONEDNN_VARIABLE] = "1"
    return True


def onednn_enabled():
    """Whether the imported TensorFlow runs oneDNN kernels (None if TensorFlow is not
    imported: importing it here would defeat the lazy imports of the JAX path)."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_advice():
    """A sentence for the user when TensorFlow runs on an x86 CPU without oneDNN (about
    2x slower training), else None."""
    if onednn_enabled() is not False or not _x86():
        return None
    return ("TensorFlow runs without oneDNN in this process (TF_ENABLE_ONEDNN_OPTS="
            f"{os.environ.get(ONEDNN_VARIABLE, 'unset')}, or TensorFlow was imported before "
            "keras_preact), so CPU training is about 2x slower: import keras_preact first "
            "or set TF_ENABLE_ONEDNN_OPTS=1 before starting Python.")


def describe():
    """The settings above as a JSON-ready dict, for run summaries and benchmarks."""
    flags = cpu_flags()
    return {"cpu": cpu_model(), "native_bfloat16": native_bfloat16_cpu(flags),
            "avx512": "avx512f" in flags, "onednn": onednn_enabled(),
            ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE),
            "intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
            "inter_op_threads": os.environ.get("TF_NUM_INTEROP_THREADS")}


__all__ = ["BF16_CPU_FLAGS", "configure", "cpu_flags", "cpu_model", "describe",
           "native_bfloat16_cpu", "onednn_advice", "onednn_enabled"]
