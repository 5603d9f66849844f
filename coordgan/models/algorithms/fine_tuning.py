"""Freezing parameters and initialising from a checkpoint of another size (REFERENCE.md section 8).

Both are declared in the model config::

    model = dict(
        frozen=['generator.warper.*', 'generator.structure_mapping.*'],
        init_cfg=dict(type='PartialPretrained',
                      checkpoint='work_dirs/coordgan_celeba/iter_300000.pth',
                      include=['generator.*', 'generator_ema.*'],
                      exclude=[]))

``frozen`` patterns are :mod:`fnmatch` globs matched against the full names
of the training model's ``named_parameters()`` (``'generator.warper.*'``
freezes the warper; ``'discriminator.convs.[0-2].*'`` the first three
entries of D's ``convs``). ``init_cfg`` is applied by mmengine when the
Runner initialises weights before training, so a later ``resume`` still wins
and building the model for inference never reads the stage-1 file.
"""
import difflib
import fnmatch
import re
from collections import Counter
from typing import Dict, Iterable, List, NamedTuple, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.runner.checkpoint import _load_checkpoint

from coordgan.registry import WEIGHT_INITIALIZERS


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _module_prefixes(names: Iterable[str]) -> List[str]:
    prefixes = set()
    for name in names:
        parts = name.split('.')
        prefixes.update('.'.join(parts[:i]) for i in range(1, len(parts)))
    return sorted(prefixes)


def _no_match_message(what: str, pattern: str, names: List[str]) -> str:
    """Why ``pattern`` matched none of ``names``, with the closest names (modules as ``'x.*'``)."""
    modules = _module_prefixes(names)
    if pattern in modules:
        return (f'{what} {pattern!r} names a module, but patterns match full '
                f'names; use {pattern + ".*"!r}')
    candidates = [m + '.*' for m in modules] + names
    stem = pattern.replace('*', '').replace('?', '')
    close = difflib.get_close_matches(pattern, candidates, n=5, cutoff=0.5)
    close += [c for c in difflib.get_close_matches(stem, candidates, n=5,
                                                   cutoff=0.5)
              if c not in close]
    msg = (f'{what} {pattern!r} matches nothing (fnmatch patterns over full '
           f'names, e.g. {"generator.warper.*"!r}).')
    if close:
        msg += f' Closest names: {", ".join(close[:5])}'
    return msg


def _summary(names: Sequence[str], depth: int = 2) -> str:
    """'generator.warper (6), discriminator (40)': counts per leading module path."""
    counts = Counter('.'.join(n.split('.')[:depth]) for n in names)
    return ', '.join(f'{k} ({v})' for k, v in sorted(counts.items()))


def _listing(names: Sequence[str], all_names: Sequence[str],
             limit: int = 40) -> str:
    """``names`` as the largest modules wholly among them ('x.convs.10.*'), then single names."""
    chosen, rest = set(names), []
    groups = Counter()
    for name in names:
        parts = name.split('.')
        for i in range(1, len(parts)):
            prefix = '.'.join(parts[:i]) + '.'
            if all(n in chosen for n in all_names if n.startswith(prefix)):
                groups[prefix + '*'] += 1
                break
        else:
            rest.append(name)
    items = [f'{g} ({c})' for g, c in groups.items()] + rest
    more = len(items) - limit
    return ', '.join(items[:limit]) + (f', ... and {more} more'
                                       if more > 0 else '')


def freeze_parameters(module: nn.Module, patterns: Sequence[str]) -> List[str]:
    """Set ``requires_grad=False`` on parameters whose full names match a pattern; their names.

    ``patterns`` are fnmatch globs over ``module.named_parameters()``. A
    pattern that matches nothing raises ``ValueError`` naming it and the
    closest parameter / module names. Optimizers built by
    ``GANOptimWrapperConstructor`` leave these parameters out.
    """
    if isinstance(patterns, str):
        raise TypeError(f'frozen must be a list of patterns, got the string '
                        f'{patterns!r}; write [{patterns!r}]')
    params = dict(module.named_parameters())
    names = list(params)
    frozen = []
    for pattern in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ValueError(_no_match_message(
                f'frozen pattern of {type(module).__name__}:', pattern,
                names))
        frozen += [n for n in hits if n not in frozen]
    for name in frozen:
        params[name].requires_grad_(False)
    if frozen:
        numel = sum(params[n].numel() for n in frozen)
        print_log(f'Frozen (requires_grad=False, in no optimizer): '
                  f'{len(frozen)} tensors, {numel} parameters: '
                  f'{_summary(frozen)}', logger='current')
    return frozen


class LoadReport(NamedTuple):
    """What :func:`load_matching_weights` did, by state-dict key of the module."""
    loaded: List[str]  # copied from the checkpoint
    new: List[str]  # selected, but the checkpoint has no such entry
    mismatched: List[str]  # selected, but the checkpoint's shape differs
    not_selected: List[str]  # outside include / inside exclude: untouched


def load_matching_weights(module: nn.Module,
                          state_dict: Dict[str, torch.Tensor],
                          include: Sequence[str] = ('*', ),
                          exclude: Sequence[str] = (),
                          key_map: Sequence[Tuple[str, str]] = ()
                          ) -> LoadReport:
    """Copy the entries of ``state_dict`` that ``module`` has with the same shape; the rest stays.

    A state-dict key ``k`` of ``module`` is selected if it matches an
    ``include`` glob and no ``exclude`` glob; it reads the checkpoint entry
    ``k`` rewritten by the ``(regex, replacement)`` pairs of ``key_map``
    (applied in order with :func:`re.sub`; mmengine's ``revise_keys`` in the
    other direction, so two keys of the module may read one entry). Loading
    is ``module.load_state_dict(strict=False)`` on the selected entries.
    Raises ``ValueError`` if a glob matches no key of ``module`` or nothing
    at all is loaded (a wrong checkpoint).
    """
    own = module.state_dict()
    keys = list(own)
    for what, patterns in (('include', include), ('exclude', exclude)):
        if isinstance(patterns, str):
            raise TypeError(f'{what} must be a list of patterns, got the '
                            f'string {patterns!r}')
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(k, pattern) for k in keys):
                raise ValueError(_no_match_message(
                    f'{what} pattern of {type(module).__name__}:', pattern,
                    keys))
    selected, report = {}, LoadReport([], [], [], [])
    for key in keys:
        if not _matches(key, include) or _matches(key, exclude):
            report.not_selected.append(key)
            continue
        source = key
        for regex, replacement in key_map:
            source = re.sub(regex, replacement, source)
        value = state_dict.get(source)
        if value is None:
            report.new.append(key)
        elif not isinstance(value, torch.Tensor) or \
                value.shape != own[key].shape:
            report.mismatched.append(key)
        else:
            selected[key] = value
            report.loaded.append(key)
    if not report.loaded:
        raise ValueError(
            f'no entry of the checkpoint fits {type(module).__name__}: '
            f'{len(report.new)} selected keys are missing from it and '
            f'{len(report.mismatched)} differ in shape (checkpoint keys '
            f'start with {sorted({k.split(".")[0] for k in state_dict})[:6]})')
    incompatible = module.load_state_dict(selected, strict=False)
    # Only keys of the module were passed, so nothing can be unexpected.
    assert not incompatible.unexpected_keys, incompatible.unexpected_keys
    return report


@WEIGHT_INITIALIZERS.register_module()
class PartialPretrained:
    """``init_cfg`` that loads the shape-matching, selected part of a checkpoint (e.g. 128 -> 512).

    Args:
        checkpoint: a checkpoint file (mmengine format, or a bare state
            dict); local files load through coordgan's trusted loader.
        include, exclude: fnmatch globs over the model's state-dict keys
            (see :func:`load_matching_weights`); excluded entries keep their
            fresh initialisation (e.g. ``'discriminator.*'`` re-initialises
            the image D).
        key_map: ``(regex, replacement)`` pairs turning a model key into the
            checkpoint key it reads, e.g.
            ``[(r'^generator\\.warper\\.', 'generator_ema.warper.')]``
            starts the trained copy of a frozen warper from the EMA weights,
            so G and G_ema hold the same frozen values.
        map_location: passed to the loader.

    The log lists the loaded entries by module, and every entry left new or
    skipped for a shape mismatch.
    """

    def __init__(self,
                 checkpoint: str,
                 include: Sequence[str] = ('*', ),
                 exclude: Sequence[str] = (),
                 key_map: Sequence[Sequence[str]] = (),
                 map_location: str = 'cpu'):
        self.checkpoint = checkpoint
        self.include = list(include)
        self.exclude = list(exclude)
        self.key_map = [tuple(pair) for pair in key_map]
        if any(len(pair) != 2 for pair in self.key_map):
            raise ValueError(f'key_map entries must be (regex, replacement) '
                             f'pairs, got {key_map!r}')
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> LoadReport:
        ckpt = _load_checkpoint(self.checkpoint,
                                map_location=self.map_location)
        state = (ckpt.get('state_dict', ckpt)
                 if isinstance(ckpt, dict) else None)
        if not isinstance(state, dict):
            raise ValueError(f'{self.checkpoint}: not a checkpoint (expected '
                             f'a dict of tensors or a dict with a '
                             f'state_dict, got {type(ckpt).__name__})')
        report = load_matching_weights(module, state, self.include,
                                       self.exclude, self.key_map)
        keys = list(module.state_dict())
        lines = [f'Initialised {type(module).__name__} from '
                 f'{self.checkpoint}:',
                 f'  loaded {len(report.loaded)} entries: '
                 f'{_summary(report.loaded)}']
        if report.new:
            lines.append(f'  left new (not in the checkpoint) '
                         f'{len(report.new)}: {_listing(report.new, keys)}')
        if report.mismatched:
            lines.append(f'  left new (shape differs) '
                         f'{len(report.mismatched)}: '
                         f'{_listing(report.mismatched, keys)}')
        if report.not_selected:
            lines.append(f'  not loaded (include/exclude) '
                         f'{len(report.not_selected)}: '
                         f'{_summary(report.not_selected, depth=1)}')
        print_log('\n'.join(lines), logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'{type(self).__name__}: '
                             f'loaded from {self.checkpoint}')
        return report
