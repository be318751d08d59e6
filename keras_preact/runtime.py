"""The process settings made before a backend loads: CPU speed, a quiet start, and the
registration of the zoo's layers with Keras.

This module imports neither Keras nor a backend: `import keras_preact` runs `configure()`
and imports nothing heavy (the package's names load on first use, see
`keras_preact/__init__.py`), because TensorFlow reads its switches once, when it is
imported, and because `keras-preact --help` should not wait for a backend.

- **Keras loads with the zoo's layers.** `configure()` puts a hook on `import keras`:
  right after Keras is imported, by whichever code, `SERIALIZABLE_MODULES` are imported
  too, so the layers registered under "keras_preact" exist before
  `keras.saving.load_model` reads a `.keras` file (Keras imports a custom object's module
  by itself only for its own packages). If Keras is already imported, they are imported
  at once.
- **A quiet start.** TensorFlow writes start-up lines to stderr before its logging is set
  up (the oneDNN notice and "All log messages before absl::InitializeLog()", twice per
  process), whatever `TF_CPP_MIN_LOG_LEVEL` says. Unless the user set
  `TF_CPP_MIN_LOG_LEVEL` (then their choice wins and nothing is hidden), the hook sends
  stderr to /dev/null while Keras and its backend are imported, and the variable defaults
  to 1 (TensorFlow's INFO lines off, warnings kept).

- **oneDNN on.** TensorFlow's x86 wheels turn oneDNN (Intel's kernel library, which also
  runs on AMD) on by default only where the CPU has AVX-512 VNNI, AVX-512 BF16 or AMX.
  Elsewhere convolutions and batch norm run on Eigen kernels. Measured on a 2-core AMD
  EPYC (Zen 3, AVX2, no AVX-512), PreActResNet-164 training with the fused batch norm of
  `keras_preact.models.layers.BatchNormalization`: 24 images/s with TensorFlow's default, 53
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

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import pathlib
import platform
import sys

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# The modules whose classes are registered with keras.saving (layers, schedules).
SERIALIZABLE_MODULES = ("keras_preact.models.layers", "keras_preact.training.schedules")


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


@contextlib.contextmanager
def _stderr_silenced():
    """Sends file descriptor 2 (C++ and Python writes alike) to /dev/null, then back."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _register_layers():
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(name)


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """Finds `keras` with the other finders, then wraps its loader (module docstring)."""

    def __init__(self, quiet):
        self.quiet = quiet

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # once; and find_spec below must not find us again
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            with _stderr_silenced() if self.quiet else contextlib.nullcontext():
                exec_module(module)
            _register_layers()

        spec.loader.exec_module = exec_then_register
        return spec


def configure():
    """Prepares the process before a backend loads (module docstring): oneDNN kernels on
    unless the user chose otherwise in `TF_ENABLE_ONEDNN_OPTS` or TensorFlow is already
    imported; TensorFlow's start-up lines silenced unless `TF_CPP_MIN_LOG_LEVEL` is set;
    the zoo's serializable layers imported with Keras. Safe to call more than once.

    Returns:
        True if this call set `TF_ENABLE_ONEDNN_OPTS`.
    """
    if "keras" in sys.modules:
        _register_layers()
    elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
        quiet = LOG_LEVEL_VARIABLE not in os.environ and "tensorflow" not in sys.modules
        os.environ.setdefault(LOG_LEVEL_VARIABLE, "1")
        sys.meta_path.insert(0, _KerasImportHook(quiet))
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


__all__ = ["BF16_CPU_FLAGS", "SERIALIZABLE_MODULES", "configure", "cpu_flags", "cpu_model", "describe",
           "native_bfloat16_cpu", "onednn_advice", "onednn_enabled"]
