"""Registries of coordgan, children of mmengine's, with errors that help.

Everything a config can name lives in one of these. The generic kinds (models,
datasets, hooks, ...) are children of mmengine's registries so that mmengine's
Runner finds coordgan modules under ``default_scope='coordgan'``. The plug-in
network kinds (warpers, generators, discriminators, encoders, losses, feature
extractors) are children of :data:`MODELS`, so each kind lists only its own
members in error messages but can still build any model.
"""
import difflib
from contextlib import contextmanager
from importlib import import_module
from typing import Iterator, List, Optional

from mmcv.transforms import TRANSFORMS as MMCV_TRANSFORMS
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import DefaultScope, Registry

SCOPE = 'coordgan'


class UnknownTypeError(KeyError):
    """A config names a type that its registry does not hold."""

    def __str__(self) -> str:
        # KeyError would print the message with quotes around it.
        return str(self.args[0])


class UnknownScopeError(ValueError):
    """A default scope that no registry in the tree carries."""


def closest_match(name: str, candidates: List[str],
                  cutoff: float = 0.5) -> Optional[str]:
    """The candidate most like ``name`` (case ignored if need be), or None: the "did you mean" of every error."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=cutoff)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        matches = difflib.get_close_matches(
            name.lower(), list(lowered), n=1, cutoff=cutoff)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


def _scopes_in_tree(root: Registry) -> List[str]:
    scopes, stack = [], [root]
    while stack:
        node = stack.pop()
        if not node.scope.startswith(f'{SCOPE}_'):  # internal kind scopes
            scopes.append(node.scope)
        stack.extend(node.children.values())
    return sorted(set(scopes))


def check_scope(scope: str, registry: Optional[Registry] = None) -> None:
    """Raise :class:`UnknownScopeError` unless ``scope`` names a registry scope.

    mmengine only warns about an unknown default scope and then builds from
    whatever registry it was called on, which turns a typo into a confusing
    "X is not in the registry" much later.
    """
    root = (registry or MODELS)._get_root_registry()
    try:
        import_module(f'{scope}.registry')
    except ImportError:
        pass
    if scope == root.scope or root._search_child(scope) is not None:
        return
    known = _scopes_in_tree(root)
    hint = closest_match(scope, known)
    raise UnknownScopeError(
        f'Unknown default scope {scope!r}: no registry with that scope is '
        f'installed (known scopes: {", ".join(known)}).' +
        (f' Did you mean {hint!r}?' if hint else ''))


def init_default_scope(scope: str = SCOPE) -> None:
    """Check ``scope`` and make it mmengine's current default scope."""
    from mmengine.registry import init_default_scope as _init
    check_scope(scope)
    _init(scope)


class CoordGANRegistry(Registry):
    """A registry that fails loudly: unknown types and scopes are errors.

    Lookups that miss raise :class:`UnknownTypeError` naming the kind, the
    registered names of that kind and the closest match. Under the coordgan
    default scope a coordgan registry builds from itself instead of jumping to
    the first registry of that scope in the tree (which would be
    :data:`MODELS`, not the warper kind the caller asked for).
    """

    def get(self, key: str):
        try:
            obj = super().get(key)
        except RuntimeError:
            obj = None
        if obj is None:
            obj = self._get_from_kinds(key)
        if obj is None:
            raise UnknownTypeError(self._unknown_message(key))
        return obj

    def _get_from_kinds(self, key: str):
        # MODELS also answers for its kind registries, so the OpenMMLab habit
        # of building any network from MODELS keeps working.
        for child in self.children.values():
            if isinstance(child, CoordGANRegistry):
                child.import_from_location()
                obj = child.module_dict.get(key) or child._get_from_kinds(key)
                if obj is not None:
                    return obj
        return None

    def registered_names(self, with_ancestors: bool = False) -> List[str]:
        """Names registered here and in the kind registries below (and above, if asked), sorted."""
        self.import_from_location()
        names = set(self.module_dict)
        for child in self.children.values():
            if isinstance(child, CoordGANRegistry):
                names.update(child.registered_names())
        parent = self.parent if with_ancestors else None
        while parent is not None:
            names.update(parent.module_dict)
            parent = parent.parent
        return sorted(names)

    def _unknown_message(self, key: str) -> str:
        own = self.registered_names()
        hint = closest_match(
            key.split('.')[-1], self.registered_names(with_ancestors=True))
        msg = (f'Unknown {self.name} type {key!r} in the {SCOPE}::{self.name}'
               f' registry. Registered {self.name} types: '
               f'{", ".join(own) if own else "(none)"}.')
        if hint:
            msg += f' Did you mean {hint!r}?'
        msg += (' A module of your own must be imported before it is built, '
                'e.g. with `custom_imports = dict(imports=[...])` in the '
                'config.')
        return msg

    @contextmanager
    def switch_scope_and_registry(self,
                                  scope: Optional[str]) -> Iterator[Registry]:
        with DefaultScope.overwrite_default_scope(scope):
            current = DefaultScope.get_current_instance()
            name = None if current is None else current.scope_name
            if name is None or name in (self.scope, SCOPE):
                yield self
            else:
                check_scope(name, self)
                with super().switch_scope_and_registry(None) as registry:
                    yield registry


def _child(name: str,
           parent: Registry,
           location: Optional[str] = None,
           scope: str = SCOPE) -> CoordGANRegistry:
    # ``location`` is imported on first lookup so that building from a config
    # registers the package's modules without an explicit import.
    return CoordGANRegistry(
        name, parent=parent, scope=scope,
        locations=[location] if location else [])


def _kind(name: str, location: Optional[str] = None) -> CoordGANRegistry:
    # Siblings under one parent need distinct scopes (mmengine keys children
    # by scope); a "." would be read as a scope separator in type names.
    return _child(name, MODELS, location,
                  scope=f'{SCOPE}_{name.replace(" ", "_")}')


# Generic kinds, children of mmengine's (transforms: of mmcv's).
MODELS = _child('model', MMENGINE_MODELS, 'coordgan.models')
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS,
                        'coordgan.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS, 'coordgan.models')
DATASETS = _child('dataset', MMENGINE_DATASETS, 'coordgan.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS)
TRANSFORMS = _child('transform', MMCV_TRANSFORMS, 'coordgan.datasets')
METRICS = _child('metric', MMENGINE_METRICS, 'coordgan.evaluation')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR)
HOOKS = _child('hook', MMENGINE_HOOKS, 'coordgan.engine')
LOOPS = _child('loop', MMENGINE_LOOPS, 'coordgan.engine')
RUNNERS = _child('runner', MMENGINE_RUNNERS, 'coordgan.engine')
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'coordgan.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS)
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS)
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS)
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS)
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS)

# Plug-in network kinds, children of MODELS.
WARPERS = _kind('warper', 'coordgan.models.warpers')
GENERATORS = _kind('generator', 'coordgan.models.generators')
DISCRIMINATORS = _kind('discriminator', 'coordgan.models.discriminators')
ENCODERS = _kind('encoder', 'coordgan.models.encoders')
LOSSES = _kind('loss', 'coordgan.models.losses')
FEATURE_EXTRACTORS = _kind('feature extractor', 'coordgan.models.correspondence')

PLUGIN_KINDS = dict(
    warper=WARPERS,
    generator=GENERATORS,
    discriminator=DISCRIMINATORS,
    encoder=ENCODERS,
    loss=LOSSES,
    feature_extractor=FEATURE_EXTRACTORS)
