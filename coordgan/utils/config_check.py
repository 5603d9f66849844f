"""Checking a config at start-up against what the library reads, before anything is built.

mmengine's Runner reads the keys it knows and ignores the rest, and builds
hooks, datasets and models only when it needs them: a misspelt top-level key
is lost silently, and a misspelt CheckpointHook argument fails at the first
save, after hours of training. :func:`check_config` reads the whole config
first and reports every problem at once, each with its key path:

* keys the library does not read: at the top level (compared with what
  mmengine's Runner reads plus coordgan's own), and in every part built from
  a registry (model and its nested networks and losses, hooks, data loaders,
  datasets, transforms, samplers, evaluators, loops, optimizers, schedulers,
  visualizer), compared with the ``__init__`` signature of the registered
  class, with the closest valid key. ``**kwargs`` handed on to
  ``super().__init__`` are followed (coordgan's datasets -> mmengine's
  BaseDataset), ``CheckpointHook``'s go to ``Runner.save_checkpoint``; any
  other ``**kwargs`` accept anything;
* required arguments that are missing, and values of the wrong type
  (judged from the annotations, or the default where there is none);
* sizes that cannot work together: the generator's images and the
  discriminator's ``in_size``, the encoder and the generator it inverts
  (``num_latents``, ``style_dim``, ``in_size``), the C^w grid and the image
  (constructor checks, run on the meta device), and the training images and
  the model.

:func:`check_config_files` then checks what the config reads from disk: the
LPIPS backbone (:meth:`LPIPS.preflight`) and every checkpoint it names.

A top-level name that is no Runner or coordgan key and does not resemble one
is a config variable (mmengine style: ``size = 32`` used further down) and
is left alone.
"""
import collections.abc
import inspect
import re
import typing
import warnings
from typing import Any, Dict, List, Optional, Sequence, Set

import torch
from mmengine.runner import Runner

from coordgan.registry import (DATA_SAMPLERS, DATASETS, DISCRIMINATORS,
                               ENCODERS, EVALUATOR, GENERATORS, HOOKS,
                               LOG_PROCESSORS, LOOPS, METRICS, MODEL_WRAPPERS,
                               MODELS, OPTIM_WRAPPERS, OPTIMIZERS,
                               PARAM_SCHEDULERS, RUNNERS, TRANSFORMS,
                               VISBACKENDS, VISUALIZERS, WARPERS,
                               WEIGHT_INITIALIZERS, closest_match)
from .checkpoint import (ENCODER_STAGE, KIND_DESCRIPTIONS, STAGE1,
                         CheckpointError, DamagedCheckpointError,
                         check_checkpoint_fits, checkpoint_kind, kind_error,
                         quiet_logger, read_state_dict)

# Read by mmengine beside Runner.__init__'s arguments (Runner.from_cfg,
# build_model_wrapper, Config.fromfile) or set by coordgan's tools.
RUNNER_EXTRA_KEYS = ('model_wrapper_cfg', 'runner_type', 'custom_imports',
                     'sync_bn', 'compile', 'launcher', 'work_dir',
                     'default_scope')
# Top-level keys coordgan itself reads. A Runner subclass adds its own with
# a ``config_keys`` class attribute.
COORDGAN_TOP_LEVEL_KEYS: List[str] = []
# OpenMMLab 1.x (mmcv) keys that mmengine silently ignores, with what it reads.
LEGACY_KEYS = {
    'lr_config': 'param_scheduler',
    'log_config': 'default_hooks.logger',
    'checkpoint_config': 'default_hooks.checkpoint',
    'optimizer_config': 'optim_wrapper',
    'evaluation': 'val_cfg, val_evaluator and default_hooks.checkpoint',
    'runner': 'train_cfg (e.g. dict(type=\'IterBasedTrainLoop\', '
              'max_iters=...))',
    'workflow': 'train_cfg / val_cfg',
    'dist_params': 'env_cfg.dist_cfg',
}
# How much a top-level name must resemble a known key to be called a typo
# rather than a config variable ('trian_cfg' ~ 'train_cfg': 0.89; the
# configs' variables such as 'img_size' or 'train_pipeline' stay below 0.65).
TYPO_CUTOFF = 0.75

# What a parameter name builds from, where it is not the models' registry.
NESTED_REGISTRIES = {
    'init_cfg': WEIGHT_INITIALIZERS,
    'pipeline': TRANSFORMS,
    'transforms': TRANSFORMS,
    'dataset': DATASETS,
    'sampler': DATA_SAMPLERS,
    'batch_sampler': DATA_SAMPLERS,
    'vis_backends': VISBACKENDS,
    'optimizer': OPTIMIZERS,
    'metrics': METRICS,
}
# Arguments the builder passes itself, by registry.
INJECTED = {
    id(LOOPS): ('runner', 'dataloader', 'evaluator'),
    id(DATA_SAMPLERS): ('dataset', 'sampler'),
    id(OPTIMIZERS): ('params', ),
    id(PARAM_SCHEDULERS): ('optimizer', ),
    id(MODEL_WRAPPERS): ('module', ),
    id(OPTIM_WRAPPERS): ('optimizer', ),
    id(VISBACKENDS): ('save_dir', ),
}
# mmengine's default hooks (Runner.register_default_hooks).
DEFAULT_HOOK_NAMES = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                      'param_scheduler', 'checkpoint')
# Keys torch's DataLoader takes, and those mmengine's build_dataloader adds.
DATALOADER_KEYS = tuple(inspect.signature(
    torch.utils.data.DataLoader).parameters) + ('num_batch_per_epoch', )
ENV_KEYS = ('cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit')
MP_KEYS = ('mp_start_method', 'opencv_num_threads')
# CoordGAN and CoordGANInversion build ``perceptual or dict(type='LPIPS')``.
IMPLICIT_DEFAULTS = {'perceptual': dict(type='LPIPS')}
NETWORK_KINDS = (GENERATORS, DISCRIMINATORS, ENCODERS, WARPERS)
# Data transforms that set the side of the training images.
RESIZE_TRANSFORMS = ('Resize', 'RandomResizedCrop')


class ConfigError(ValueError):
    """Config entries the library would ignore, misread or fail on later; one line per problem, each with its key path."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        head = ('1 problem' if len(self.problems) == 1 else
                f'{len(self.problems)} problems')
        super().__init__(f'config: {head}, found before anything was '
                         'built:\n' + '\n'.join(f'  {p}'
                                                for p in self.problems))


def check_config(cfg) -> None:
    """Raise :class:`ConfigError` listing every unknown key, missing argument, wrong type and size mismatch of ``cfg``.

    Reads no files and builds nothing heavy (networks are built on the
    meta device), so it runs at start-up in about a second.
    """
    checker = _Checker(cfg)
    checker.run()
    if checker.problems:
        raise ConfigError(checker.problems)


def check_config_files(cfg, mode: str = 'train') -> None:
    """Check what ``cfg`` reads from disk before the Runner builds anything.

    LPIPS backbone weights (``preflight`` of every registered class that has
    one), ``load_from`` (damaged, wrong stage, other model or size: strict
    when resuming or testing, ``mode='test'``), the stage-1
    ``model.generator_checkpoint``, an extractor's ``checkpoint`` and
    ``init_cfg`` checkpoints (readable, of the right stage).
    """
    model = cfg.get('model')
    if isinstance(model, dict):
        model = _plain(model)
        for path, part, cls in _parts(model, 'model'):
            preflight = getattr(cls, 'preflight', None)
            if callable(preflight):
                try:
                    preflight(part)
                except (ValueError, FileNotFoundError) as err:
                    raise type(err)(f'{path}: {err}') from None
            _check_named_checkpoints(part, path, cls)
    load_from = cfg.get('load_from')
    if load_from and isinstance(model, dict):
        strict = mode == 'test' or bool(cfg.get('resume'))
        used_as = ('tools/test.py CONFIG CHECKPOINT' if mode == 'test' else
                   '--resume' if cfg.get('resume') else 'load_from')
        try:
            check_checkpoint_fits(model, load_from, strict=strict,
                                  used_as=used_as)
        except (DamagedCheckpointError, FileNotFoundError):
            if mode == 'test' or not cfg.get('resume'):
                raise
            # --resume PATH: CoordGANRunner reports a missing or damaged
            # file, with the newest complete checkpoint beside it.


def validate_config(cfg, mode: str = 'train') -> None:
    """Everything checkable before the Runner starts: :func:`check_config`, then :func:`check_config_files`."""
    check_config(cfg)
    check_config_files(cfg, mode)


# ------------------------------------------------------------ the walker
class _Checker:

    def __init__(self, cfg):
        self.cfg = cfg
        self.problems: List[str] = []
        self.runner_cls = self._runner_class()
        # Networks built on the meta device, by key path (for size rules).
        self.built: Dict[str, Any] = {}

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def _runner_class(self):
        name = self.cfg.get('runner_type')
        if name is None:
            return Runner
        if isinstance(name, type):
            return name
        try:
            return RUNNERS.get(name)
        except KeyError as err:
            self.fail(f'runner_type: {err}')
            return Runner

    # ------------------------------------------------------ sections
    def run(self) -> None:
        cfg = self.cfg
        self.check_top_level()
        model = cfg.get('model')
        if isinstance(model, dict):
            self.check_obj(model, 'model', MODELS)
            self.check_sizes(model, 'model')
        elif model is None:
            self.fail('model: the config has no model')
        self.check_default_hooks(cfg.get('default_hooks'))
        hooks = cfg.get('custom_hooks')
        for i, hook in enumerate(hooks or []):
            self.check_built(hook, f'custom_hooks[{i}]', HOOKS)
        for split in ('train', 'val', 'test'):
            self.check_dataloader(cfg.get(f'{split}_dataloader'),
                                  f'{split}_dataloader')
            self.check_loop(cfg.get(f'{split}_cfg'), split)
        for key in ('val_evaluator', 'test_evaluator'):
            self.check_evaluator(cfg.get(key), key)
        self.check_optim(cfg.get('optim_wrapper'))
        schedulers = cfg.get('param_scheduler')
        for i, sched in enumerate(schedulers if isinstance(
                schedulers, (list, tuple)) else [schedulers]):
            path = ('param_scheduler' if not isinstance(
                schedulers, (list, tuple)) else f'param_scheduler[{i}]')
            self.check_built(sched, path, PARAM_SCHEDULERS)
        self.check_built(cfg.get('visualizer'), 'visualizer', VISUALIZERS)
        self.check_built(cfg.get('log_processor'), 'log_processor',
                         LOG_PROCESSORS)
        self.check_built(cfg.get('model_wrapper_cfg'), 'model_wrapper_cfg',
                         MODEL_WRAPPERS)
        self.check_keys(cfg.get('randomness'), 'randomness',
                        _params(Runner.set_randomness),
                        'Runner.set_randomness')
        env = cfg.get('env_cfg')
        self.check_keys(env, 'env_cfg', ENV_KEYS, 'the Runner\'s env_cfg')
        if isinstance(env, dict):
            self.check_keys(env.get('mp_cfg'), 'env_cfg.mp_cfg', MP_KEYS,
                            'the Runner\'s mp_cfg')
        self.check_data_vs_model()

    def check_top_level(self) -> None:
        known = set(RUNNER_EXTRA_KEYS) | set(COORDGAN_TOP_LEVEL_KEYS) | set(
            getattr(self.runner_cls, 'config_keys', ()))
        # A subclass passing *args, **kwargs on takes its parents' keys too.
        for cls in self.runner_cls.__mro__:
            if isinstance(cls, type) and issubclass(cls, Runner):
                known.update(_params(cls.__init__))
        known.discard('cfg')
        for key in self.cfg:
            if key in known or key.startswith('_'):
                continue
            if key in LEGACY_KEYS:
                self.fail(f'{key}: an OpenMMLab 1.x (mmcv) key that mmengine '
                          f'ignores; mmengine reads {LEGACY_KEYS[key]}')
                continue
            hint = closest_match(key, sorted(known), cutoff=TYPO_CUTOFF)
            if hint is not None:
                self.fail(f'{key}: not a key the Runner or coordgan reads '
                          f'(it would be ignored). Did you mean {hint!r}? '
                          '(A config variable of your own needs a name '
                          'unlike the Runner\'s keys.)')

    def check_default_hooks(self, hooks) -> None:
        if hooks is None:
            return
        if not isinstance(hooks, dict):
            self.fail(f'default_hooks: expected a dict of hook configs by '
                      f'name, got {type(hooks).__name__}')
            return
        for name, hook in hooks.items():
            path = f'default_hooks.{name}'
            if hook is None:
                continue  # removes a default hook
            if isinstance(hook, dict) and 'type' not in hook:
                hint = closest_match(name, list(DEFAULT_HOOK_NAMES))
                self.fail(
                    f'{path}: no type, and {name!r} is not one of mmengine\'s '
                    f'default hooks ({", ".join(DEFAULT_HOOK_NAMES)})' +
                    (f'. Did you mean {hint!r}?' if hint else ''))
                continue
            self.check_built(hook, path, HOOKS)

    def check_dataloader(self, loader, path: str) -> None:
        if loader is None:
            return
        if not isinstance(loader, dict):
            return  # a built DataLoader
        self.check_keys(loader, path, DATALOADER_KEYS + ('type', ),
                        'a data loader (torch DataLoader + mmengine)')
        self.check_built(loader.get('dataset'), f'{path}.dataset', DATASETS)
        for key in ('sampler', 'batch_sampler'):
            self.check_built(loader.get(key), f'{path}.{key}', DATA_SAMPLERS)
        for key in ('batch_size', 'num_workers'):
            value = loader.get(key)
            if key in loader and (not isinstance(value, int) or isinstance(
                    value, bool) or value < (1 if key == 'batch_size' else 0)):
                self.fail(f'{path}.{key}: expected an int >= '
                          f'{1 if key == "batch_size" else 0}, got '
                          f'{type(value).__name__} {value!r}')

    def check_loop(self, loop, split: str) -> None:
        path = f'{split}_cfg'
        if not isinstance(loop, dict):
            return
        if 'type' in loop:
            self.check_built(loop, path, LOOPS)
            return
        from mmengine.runner import (EpochBasedTrainLoop, IterBasedTrainLoop,
                                     TestLoop, ValLoop)
        if split == 'train':
            cls = (EpochBasedTrainLoop if loop.get('by_epoch')
                   else IterBasedTrainLoop)
            args = {k: v for k, v in loop.items() if k != 'by_epoch'}
        else:
            cls, args = (ValLoop if split == 'val' else TestLoop), loop
        self.check_args(args, path, cls, INJECTED[id(LOOPS)])

    def check_evaluator(self, evaluator, path: str) -> None:
        if evaluator is None:
            return
        if isinstance(evaluator, (list, tuple)):
            for i, metric in enumerate(evaluator):
                self.check_built(metric, f'{path}[{i}]', METRICS)
        elif isinstance(evaluator, dict) and 'metrics' in evaluator:
            self.check_built(evaluator, path, EVALUATOR)
        else:
            self.check_built(evaluator, path, METRICS)

    def check_optim(self, optim) -> None:
        # Sub-wrappers keyed by name (GANOptimWrapperConstructor) or one
        # wrapper; the optimizers inside are checked against their classes.
        if not isinstance(optim, dict):
            return
        stack = [(optim, 'optim_wrapper')]
        while stack:
            node, path = stack.pop()
            for key, value in node.items():
                if key == 'optimizer':
                    self.check_built(value, f'{path}.optimizer', OPTIMIZERS)
                elif isinstance(value, dict) and key != 'paramwise_cfg':
                    stack.append((value, f'{path}.{key}'))

    def check_keys(self, cfg, path: str, allowed: Sequence[str],
                   what: str) -> None:
        """Unknown keys of a plain dict the library reads with fixed keys."""
        if not isinstance(cfg, dict):
            return
        for key in cfg:
            if key not in allowed:
                self.fail(_unknown(f'{path}.{key}', key, allowed, what))

    # ------------------------------------------------ registry objects
    def check_built(self, cfg, path: str, registry) -> None:
        """A config of something built from ``registry`` (None: nothing configured)."""
        if cfg is None or not isinstance(cfg, dict):
            return
        if 'type' not in cfg:
            self.fail(f'{path}: no type (a {registry.name} config needs '
                      'type=...)')
            return
        self.check_obj(cfg, path, registry)

    def check_obj(self, cfg: dict, path: str, registry) -> Optional[type]:
        cls = self.resolve(cfg.get('type'), registry, path, required=True)
        if cls is None:
            return None
        before = len(self.problems)
        self.check_args(cfg, path, cls, INJECTED.get(id(registry), ()))
        if len(self.problems) == before and _is_network(cfg.get('type')):
            self.build_on_meta(cfg, path)
        return cls

    def resolve(self, name, registry, path: str, required: bool):
        if not isinstance(name, str):
            return name if callable(name) else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                return registry.get(name)
        except KeyError as err:
            if required:
                self.fail(f'{path}.type: {err}')
            else:
                # Not necessarily a registry config (a ramp's 'linear'), but
                # a near miss of a registered name is a typo.
                names = MODELS.registered_names(with_ancestors=True)
                hint = closest_match(name, names, cutoff=0.85)
                if hint is not None:
                    self.fail(f'{path}.type: unknown type {name!r}. Did you '
                              f'mean {hint!r}?')
            return None

    def check_args(self, cfg: dict, path: str, cls, injected=()) -> None:
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):
            return
        hints = _type_hints(cls)
        params = {n: p for n, p in sig.parameters.items()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        forwarded = self.forwarded_kwargs(cls)
        accepted = (set(params) | set(forwarded) if forwarded is not None
                    else _accepted_keywords(cls))
        given = [k for k in cfg if k not in ('type', '_scope_')]
        name = getattr(cls, '__name__', str(cls))
        if accepted is not None:
            accepted |= set(injected)
            for key in given:
                if key not in accepted:
                    self.fail(_unknown(f'{path}.{key}', key,
                                       sorted(accepted - set(injected)),
                                       name))
        for pname, param in params.items():
            if (param.default is param.empty and pname not in cfg
                    and pname not in injected):
                self.fail(f'{path}: {name} needs {pname!r} (it has no '
                          'default)')
        for key in given:
            if key in params:
                expected = _type_problem(cfg[key], hints.get(
                    key, params[key].annotation), params[key].default)
                if expected is not None:
                    self.fail(f'{path}.{key}: expected {expected}, got '
                              f'{_show(cfg[key])}')
            self.check_nested(cfg[key], f'{path}.{key}', key)
        if 'perceptual' in params and cfg.get('perceptual') is None:
            # What the model builds when none is configured.
            self.check_nested(dict(IMPLICIT_DEFAULTS['perceptual']),
                              f'{path}.perceptual', 'perceptual')

    def forwarded_kwargs(self, cls) -> Optional[List[str]]:
        """Keywords a ``**kwargs`` class passes on to a function with a fixed signature (None: not known)."""
        from mmengine.hooks import CheckpointHook
        if isinstance(cls, type) and issubclass(cls, CheckpointHook):
            save = inspect.signature(self.runner_cls.save_checkpoint)
            if any(p.kind == p.VAR_KEYWORD
                   for p in save.parameters.values()):
                return None
            # CheckpointHook passes these itself.
            passed = {'self', 'out_dir', 'filename', 'file_client_args',
                      'save_optimizer', 'save_param_scheduler', 'meta',
                      'by_epoch', 'backend_args'}
            return [n for n in save.parameters if n not in passed]
        return None

    def check_nested(self, value, path: str, key: str) -> None:
        if isinstance(value, dict):
            if 'type' in value:
                registry = NESTED_REGISTRIES.get(key)
                if registry is not None:
                    self.check_obj(value, path, registry)
                elif self.resolve(value['type'], MODELS, path,
                                  required=False) is not None:
                    self.check_obj(value, path, MODELS)
                return
            for k, v in value.items():
                self.check_nested(v, f'{path}.{k}', k)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self.check_nested(v, f'{path}[{i}]', key)

    def build_on_meta(self, cfg: dict, path: str) -> None:
        """Build a network on the meta device: its constructor's own checks (grid vs image size...) run at start-up, with the key path."""
        try:
            with quiet_logger(), warnings.catch_warnings(), \
                    torch.device('meta'):
                warnings.simplefilter('ignore')
                self.built[path] = MODELS.build(_plain(cfg))
        except (ValueError, TypeError, KeyError, AssertionError) as err:
            self.fail(f'{path}: {_first_line(err)}')
        except Exception:  # noqa: BLE001 e.g. an op the meta device lacks
            pass  # the real build reports anything else

    # ------------------------------------------------------ sizes
    def arg(self, cfg: dict, name: str):
        """``cfg[name]``, or the default of the configured class."""
        if name in cfg:
            return cfg[name]
        try:
            cls = MODELS.get(cfg['type'])
            return inspect.signature(cls).parameters[name].default
        except (KeyError, TypeError, ValueError):
            return None

    def check_sizes(self, cfg, path: str) -> None:
        """Size rules between the networks of every model config, at any depth."""
        if isinstance(cfg, dict):
            gen, disc, enc = (cfg.get(k) for k in ('generator',
                                                   'discriminator',
                                                   'encoder'))
            if isinstance(gen, dict) and 'type' in gen:
                if isinstance(disc, dict) and 'type' in disc:
                    self.image_vs_discriminator(gen, disc, path)
                if isinstance(enc, dict) and 'type' in enc:
                    self.encoder_vs_generator(enc, gen, path)
            for key, value in cfg.items():
                if isinstance(value, dict):
                    self.check_sizes(value, f'{path}.{key}')

    def image_vs_discriminator(self, gen: dict, disc: dict, path: str):
        out, in_size = self.arg(gen, 'out_size'), self.arg(disc, 'in_size')
        if _ints(out, in_size) and out != in_size:
            self.fail(f'{path}.discriminator.in_size: {in_size}, but '
                      f'{path}.generator.out_size is {out}: the '
                      'discriminator judges the generator\'s images, so both '
                      'must be the image size')

    def encoder_vs_generator(self, enc: dict, gen: dict, path: str):
        for key, why in (('in_size', 'the encoder inverts the generator\'s '
                          'images'),
                         ('style_dim', 'the encoder predicts the '
                          'generator\'s w codes')):
            theirs = 'out_size' if key == 'in_size' else key
            mine, other = self.arg(enc, key), self.arg(gen, theirs)
            if _ints(mine, other) and mine != other:
                self.fail(f'{path}.encoder.{key}: {mine}, but '
                          f'{path}.generator.{theirs} is {other}: {why}')
        # Derived from the generator's architecture: read off a meta build.
        built = self.built.get(f'{path}.generator')
        mine = self.arg(enc, 'num_latents')
        theirs = getattr(built, 'num_latents', None)
        if _ints(mine, theirs) and mine != theirs:
            self.fail(f'{path}.encoder.num_latents: {mine}, but '
                      f'{path}.generator takes {theirs} W+ codes (one per '
                      'modulated layer, from its num_blocks and out_size): '
                      'the encoder predicts each of them')

    def check_data_vs_model(self) -> None:
        model, loader = self.cfg.get('model'), self.cfg.get(
            'train_dataloader')
        if not isinstance(model, dict) or not isinstance(loader, dict):
            return
        disc, gen = model.get('discriminator'), model.get('generator')
        if isinstance(disc, dict) and 'type' in disc:
            side, where = self.arg(disc, 'in_size'), \
                'model.discriminator.in_size'
        elif isinstance(gen, dict) and 'type' in gen and isinstance(
                model.get('encoder'), dict):
            side, where = self.arg(gen, 'out_size'), \
                'model.generator.out_size'
        else:
            return
        data = _data_image_side(loader.get('dataset'),
                                'train_dataloader.dataset')
        if data is None:
            return
        data_side, data_path = data
        if _ints(side, data_side) and side != data_side:
            self.fail(f'{data_path}: the training images are {data_side} '
                      f'px, but {where} is {side}: the model compares real '
                      'images at its own size')


# ------------------------------------------------------------- helpers
def _params(func) -> List[str]:
    return [n for n, p in inspect.signature(func).parameters.items()
            if n != 'self' and p.kind not in (p.VAR_POSITIONAL,
                                              p.VAR_KEYWORD)]


def _accepted_keywords(cls) -> Optional[Set[str]]:
    """Keywords ``cls(...)`` accepts, following ``**kwargs`` handed on to ``super().__init__``; None: anything.

    coordgan's datasets take ``**kwargs`` and pass them to mmengine's
    BaseDataset, whose signature is fixed: the union is what they accept.
    ``**kwargs`` that go anywhere else accept anything.
    """
    if not isinstance(cls, type):
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):
            return None
        if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        return set(_params(cls))
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return names
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return None
        names.update(n for n, p in sig.parameters.items()
                     if n != 'self' and p.kind not in (p.VAR_POSITIONAL,
                                                       p.VAR_KEYWORD))
        var_kw = [n for n, p in sig.parameters.items()
                  if p.kind == p.VAR_KEYWORD]
        if not var_kw:
            return names
        if not _forwards_to_super(init, var_kw[0]):
            return None
    return None


def _forwards_to_super(init, kwargs_name: str) -> bool:
    """Whether ``init`` passes ``**<kwargs_name>`` to ``super().__init__`` (read from its source)."""
    try:
        src = inspect.getsource(init)
    except (OSError, TypeError):
        return False
    call = re.search(r'super\([^)]*\)\.__init__\(', src)
    return call is not None and f'**{kwargs_name}' in src[call.end():]


def _unknown(path: str, key: str, allowed: Sequence[str], what: str) -> str:
    hint = closest_match(key, list(allowed))
    return (f'{path}: {what} has no argument {key!r}' +
            (f'. Did you mean {hint!r}?' if hint else '.') +
            f' It takes: {", ".join(sorted(allowed))}')


def _is_network(name) -> bool:
    if not isinstance(name, str):
        return False
    for kind in NETWORK_KINDS:
        kind.import_from_location()
        if name in kind.module_dict:
            return True
    return False


def _plain(cfg):
    """A ConfigDict as plain dicts and lists (what builders get)."""
    if isinstance(cfg, dict):
        return {k: _plain(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_plain(v) for v in cfg)
    return cfg


def _first_line(err: BaseException) -> str:
    text = str(err).strip().strip('"\'')
    return text.splitlines()[0] if text else type(err).__name__


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool)
               for v in values)


def _show(value) -> str:
    text = repr(value)
    return f'{type(value).__name__} {text[:60]}'


def _type_hints(cls) -> dict:
    target = cls.__init__ if isinstance(cls, type) else cls
    try:
        return typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 unresolvable forward references
        return {}


_SEQUENCES = (list, tuple, collections.abc.Sequence)


def _fits(value, ann) -> Optional[bool]:
    """Whether ``value`` fits annotation ``ann``: True, False, or None when it cannot be judged."""
    if ann is inspect.Parameter.empty or ann is Any or isinstance(ann, str):
        return None
    if ann is type(None):
        return value is None
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Union or type(ann).__name__ == 'UnionType':
        results = [_fits(value, a) for a in args]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if ann is bool:
        return isinstance(value, bool)
    if ann is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if ann is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ann is str:
        return isinstance(value, str)
    if ann in (dict, Dict) or origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    if ann in _SEQUENCES or origin in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                return False
            checks = [_fits(v, a) for v, a in zip(value, args)]
        elif args:
            checks = [_fits(v, args[0]) for v in value]
        else:
            checks = []
        return False if any(c is False for c in checks) else True
    return None


def _type_problem(value, ann, default) -> Optional[str]:
    """What a parameter expects, if ``value`` clearly does not fit; None if it fits or cannot be judged."""
    if value is None and default is None:
        return None
    if ann is inspect.Parameter.empty:
        if isinstance(default, bool):
            ann = bool
        elif isinstance(default, (int, float)):
            ann = float  # an int default does not forbid 0.5
        elif isinstance(default, str):
            ann = str
        else:
            return None
    if _fits(value, ann) is False:
        return _type_name(ann)
    return None


def _type_name(ann) -> str:
    if ann is type(None):
        return 'None'
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Union or type(ann).__name__ == 'UnionType':
        return ' or '.join(_type_name(a) for a in args)
    if ann in _SEQUENCES or origin in _SEQUENCES:
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f'a list/tuple of {len(args)}: ' + ', '.join(
                _bare_name(a) for a in args)
        return 'a list/tuple' + (f' of {_bare_name(args[0])}'
                                 if args else '')
    if ann is float:
        return 'a number'
    if ann in (dict, Dict) or origin in (dict, collections.abc.Mapping):
        return 'a dict'
    if isinstance(ann, type):
        return ('an ' if ann.__name__[0] in 'aeiou' else 'a ') + ann.__name__
    return str(ann).replace('typing.', '')


def _bare_name(ann) -> str:
    """``int`` for an int, the typing form otherwise (element types)."""
    if isinstance(ann, type):
        return ann.__name__
    return str(ann).replace('typing.', '')


def _parts(cfg, path: str):
    """(path, config, class) of every registry-built part of a model config, implicit defaults included."""
    if isinstance(cfg, dict):
        cls = None
        if 'type' in cfg and isinstance(cfg['type'], str):
            try:
                cls = MODELS.get(cfg['type'])
            except KeyError:
                cls = None
        if cls is not None:
            yield path, cfg, cls
            params = _signature_params(cls)
            for key, default in IMPLICIT_DEFAULTS.items():
                if key in params and cfg.get(key) is None:
                    yield from _parts(dict(default), f'{path}.{key}')
        for key, value in cfg.items():
            if isinstance(value, (dict, list, tuple)):
                yield from _parts(value, f'{path}.{key}')
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from _parts(value, f'{path}[{i}]')


def _signature_params(cls) -> List[str]:
    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return []


def _check_named_checkpoints(part: dict, path: str, cls) -> None:
    """The checkpoints a model part names: readable, and of the stage it needs."""
    name = getattr(cls, '__name__', '')
    stage1 = part.get('generator_checkpoint')
    if stage1:
        _expect_kind(stage1, f'{path}.generator_checkpoint', (STAGE1, ),
                     'give the stage-1 checkpoint (work_dirs/coordgan_*/'
                     'iter_*.pth) as model.generator_checkpoint; an '
                     'encoder-stage run resumes with --resume')
    ckpt = part.get('checkpoint')
    if ckpt and name == 'CoordGANCorrespondence':
        _expect_kind(ckpt, f'{path}.checkpoint', (ENCODER_STAGE, ),
                     'CoordGAN is evaluated with an encoder-stage '
                     'checkpoint (work_dirs/coordgan-encoder_*/iter_*.pth)')
    init = part.get('init_cfg')
    for i, item in enumerate(init if isinstance(init, (list, tuple))
                             else [init]):
        if isinstance(item, dict) and item.get('checkpoint'):
            where = (f'{path}.init_cfg[{i}]' if isinstance(init, (list, tuple))
                     else f'{path}.init_cfg')
            _read_named(item['checkpoint'], f'{where}.checkpoint')


def _read_named(filename: str, path: str) -> dict:
    """A checkpoint's weights; a missing or damaged file is an error naming the config key too."""
    try:
        return read_state_dict(filename)
    except (FileNotFoundError, CheckpointError) as err:
        raise type(err)(f'{path}: {err}') from None


def _expect_kind(filename: str, path: str, kinds, hint: str) -> None:
    kind = checkpoint_kind(_read_named(filename, path))
    if kind not in kinds:
        raise CheckpointError(kind_error(
            filename, kind, f'{path} needs {KIND_DESCRIPTIONS[kinds[0]]}',
            hint))


def _data_image_side(dataset, path: str):
    """(side in px, key path) of a training dataset's images, where the config fixes it; else None."""
    while isinstance(dataset, dict) and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset, path = dataset['dataset'], f'{path}.dataset'
    if not isinstance(dataset, dict):
        return None
    for i, step in reversed(list(enumerate(dataset.get('pipeline') or []))):
        if isinstance(step, dict) and step.get('type') in RESIZE_TRANSFORMS:
            scale = step.get('scale')
            if isinstance(scale, int):
                return scale, f'{path}.pipeline[{i}].scale'
            if (isinstance(scale, (list, tuple)) and len(scale) == 2
                    and scale[0] == scale[1] and not step.get('keep_ratio')):
                return scale[0], f'{path}.pipeline[{i}].scale'
            return None
    try:
        params = inspect.signature(DATASETS.get(dataset['type'])).parameters
    except (KeyError, TypeError, ValueError):
        return None
    if 'img_size' in dataset:
        return dataset['img_size'], f'{path}.img_size'
    if 'img_size' in params:
        return params['img_size'].default, f'{path}.img_size (default)'
    return None
