"""The module paths of earlier versions, which were one flat package: `import
keras_preact.data` (or `from keras_preact import registry`) still gives the module, now
`keras_preact.training.data` (`keras_preact.pretrained.registry`), as the same object, so
attributes set on one are seen through the other.

`keras_preact.training`, `keras_preact.pretrained` and `keras_preact.cli` are packages
now; the first two re-export the names of the modules they replaced (`training.loop`,
`pretrained.loading`) and `cli` keeps its functions.
"""

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "keras_preact.archs": "keras_preact.models.archs",
    "keras_preact.model": "keras_preact.models.builder",
    "keras_preact.layers": "keras_preact.models.layers",
    "keras_preact.modelspec": "keras_preact.models.spec",
    "keras_preact.units": "keras_preact.models.units",
    "keras_preact.variants": "keras_preact.models.variants",
    "keras_preact.zoo": "keras_preact.models.zoo",
    "keras_preact.export": "keras_preact.deploy.export",
    "keras_preact.features": "keras_preact.deploy.features",
    "keras_preact.finetune": "keras_preact.deploy.finetune",
    "keras_preact.prediction": "keras_preact.deploy.prediction",
    "keras_preact.hub": "keras_preact.pretrained.hub",
    "keras_preact.labels": "keras_preact.pretrained.labels",
    "keras_preact.metadata": "keras_preact.pretrained.metadata",
    "keras_preact.preprocessing": "keras_preact.pretrained.preprocessing",
    "keras_preact.publish": "keras_preact.pretrained.publish",
    "keras_preact.registry": "keras_preact.pretrained.registry",
    "keras_preact.samples": "keras_preact.pretrained.samples",
    "keras_preact.callbacks": "keras_preact.training.callbacks",
    "keras_preact.checkpointing": "keras_preact.training.checkpointing",
    "keras_preact.data": "keras_preact.training.data",
    "keras_preact.distribute": "keras_preact.training.distribute",
    "keras_preact.evaluation": "keras_preact.training.evaluation",
    "keras_preact.pipelines": "keras_preact.training.pipelines",
    "keras_preact.recipes": "keras_preact.training.recipes",
    "keras_preact.reporting": "keras_preact.training.reporting",
    "keras_preact.schedules": "keras_preact.training.schedules",
    "keras_preact.commands": "keras_preact.cli",
    **{f"keras_preact.commands.{name}": f"keras_preact.cli.{name}"
       for name in ("compare", "evaluate", "export", "finetune", "options", "predict",
                    "publish", "summary", "train")},
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old path with the module at its new one (module docstring)."""

    def __init__(self):
        self._specs = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # Trap: the import system has just set the module's __spec__ to the old path's.
        module.__spec__ = self._specs.pop(module.__spec__.name)


def install():
    """Adds the finder for the old paths (once), ahead of the others: an old path below
    a moved package (keras_preact.commands.train) would otherwise be found again in the
    package's folder and loaded a second time, as a different module."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())


__all__ = ["MOVED", "install"]
