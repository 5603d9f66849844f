"""Loading mmengine checkpoints on torch >= 2.6, and telling what a checkpoint file is.

torch 2.6 made ``torch.load`` default to ``weights_only=True``, which refuses
the message hub, numpy scalars and config objects that mmengine's Runner saves
next to the weights, so ``--resume`` and ``load_from`` fail on every
checkpoint. coordgan registers a loader for local paths that first tries the
safe mode and falls back to full unpickling. Full unpickling runs code from
the file: only load checkpoints you trust (your own work_dirs, files from
people you trust), exactly as with torch < 2.6.

Every error about a file names it: a truncated or damaged file is a
:class:`DamagedCheckpointError` (not torch's zip-reader message), and
:func:`check_checkpoint_fits` says when a file is of another stage, another
model or another size than the config it is given to.
"""
import copy
import os.path as osp
import pickle
import re
import warnings
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.runner.checkpoint import CheckpointLoader


class CheckpointError(ValueError):
    """A checkpoint file that cannot serve where it is given; the message names the file."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint file that is truncated or damaged (an interrupted save, a partial copy)."""


def load_local_checkpoint(filename: str, map_location=None,
                          mmap: bool = False):
    """Load a local checkpoint file; full unpickling only if the safe mode refuses it.

    ``mmap=True`` maps the tensors instead of reading them (cheap look at a
    large file). Raises :class:`DamagedCheckpointError` naming the file when
    it is truncated or damaged.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    if osp.getsize(filename) == 0:
        raise DamagedCheckpointError(
            f'checkpoint {filename!r} is truncated or damaged: the file is '
            'empty (0 bytes)')
    try:
        try:
            return _torch_load(filename, map_location, True, mmap)
        except pickle.UnpicklingError:
            print_log(
                f'{filename}: holds objects beyond tensors (mmengine training '
                'state); loading it as a trusted local file.',
                logger='current', level=10)
            return _torch_load(filename, map_location, False, mmap)
    except PermissionError as err:
        raise CheckpointError(
            f'checkpoint {filename!r} cannot be read: {err}') from None
    except Exception as err:  # torch raises many kinds for a cut-off file
        raise DamagedCheckpointError(
            f'checkpoint {filename!r} is truncated or damaged '
            f'({osp.getsize(filename)} bytes; torch: '
            f'{type(err).__name__}: {_first_line(err)}). An interrupted '
            'save or a partial copy leaves such a file: use an earlier '
            'checkpoint or copy it again') from None


def _torch_load(filename: str, map_location, weights_only: bool, mmap: bool):
    if mmap:
        try:
            return torch.load(filename, map_location=map_location,
                              weights_only=weights_only, mmap=True)
        except RuntimeError as err:
            # Files of torch's legacy (non-zip) format cannot be mapped.
            if 'mmap can only be used' not in str(err):
                raise
    return torch.load(filename, map_location=map_location,
                      weights_only=weights_only)


def _first_line(err: BaseException) -> str:
    """The first sentence of an error message (torch's run on for lines)."""
    text = str(err).strip().splitlines()
    return text[0].split('. ')[0][:200] if text else ''


def register_trusted_local_loader() -> None:
    """Make mmengine use :func:`load_local_checkpoint` for local paths."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


# ----------------------------------------------------------------- kinds
# What each training stage saves, told apart by the top-level names of the
# weights (the model's attribute names).
STAGE1 = 'stage-1'
ENCODER_STAGE = 'encoder-stage'
LABEL_PROPAGATION = 'label-propagation'
OTHER = 'other'

KIND_DESCRIPTIONS = {
    STAGE1: 'a CoordGAN stage-1 checkpoint (generator_ema.*, '
            'discriminator.*)',
    ENCODER_STAGE: 'an encoder-stage checkpoint (CoordGANInversion: '
                   'encoder.*, generator.*)',
    LABEL_PROPAGATION: 'a label-propagation model checkpoint (extractor.*)',
    OTHER: 'not a checkpoint of a coordgan model',
}

# Which kinds a model of each type loads, and where the right file comes
# from. Types not listed are not checked by kind (only by fit).
EXPECTED_KINDS = {
    'CoordGAN': ((STAGE1, ), 'this config trains CoordGAN stage 1 '
                 '(configs/coordgan_*.py, checkpoints in work_dirs/'
                 'coordgan_*/iter_*.pth)'),
    'CoordGANInversion': ((ENCODER_STAGE, STAGE1), 'this config trains the '
                          'encoder stage; resume it from its own checkpoints '
                          '(work_dirs/coordgan-encoder_*/iter_*.pth) and give '
                          'the stage-1 checkpoint as '
                          'model.generator_checkpoint'),
    'CoordGANCorrespondence': ((ENCODER_STAGE, LABEL_PROPAGATION),
                               'CoordGAN is evaluated with an encoder-stage '
                               'checkpoint (work_dirs/coordgan-encoder_*/'
                               'iter_*.pth); train one with configs/'
                               'coordgan-encoder_*.py --cfg-options '
                               'model.generator_checkpoint=<stage-1 file>'),
}


def state_dict_of(ckpt) -> Optional[Dict[str, torch.Tensor]]:
    """The weights of a loaded checkpoint (its ``state_dict`` or itself), ``module.`` prefixes removed; None if it holds none."""
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) for k in state):
        return None
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


def checkpoint_kind(state: Dict[str, torch.Tensor]) -> str:
    """Which stage saved these weights: one of :data:`KIND_DESCRIPTIONS`."""
    tops = {k.split('.')[0] for k in state}
    if 'generator_ema' in tops:
        return STAGE1
    if {'encoder', 'generator'} <= tops:
        return ENCODER_STAGE
    if 'extractor' in tops:
        return LABEL_PROPAGATION
    return OTHER


def top_level_names(state: Dict[str, torch.Tensor], num: int = 6) -> List[str]:
    """The first ``num`` top-level names of a state dict's keys, sorted."""
    return sorted({k.split('.')[0] for k in state})[:num]


def read_state_dict(filename: str) -> Dict[str, torch.Tensor]:
    """The weights of a checkpoint file, tensors memory-mapped (cheap); errors name the file."""
    state = state_dict_of(load_local_checkpoint(filename, map_location='cpu',
                                                mmap=True))
    if state is None:
        raise CheckpointError(
            f'{filename}: not a checkpoint: expected a dict of weights (or a '
            'dict with a state_dict), found none')
    return state


def kind_error(filename: str, kind: str, used_as: str, hint: str) -> str:
    """The message for a checkpoint of the wrong kind where ``used_as`` needs another."""
    return (f'{filename} is {KIND_DESCRIPTIONS[kind]}, but {used_as}: '
            f'{hint}')


# ------------------------------------------------------------ fit checks
_SIZE_MISMATCH = re.compile(
    r'size mismatch for (\S+): copying a param with shape '
    r'torch\.Size\(\[([^\]]*)\]\) from checkpoint, the shape in current '
    r'model is torch\.Size\(\[([^\]]*)\]\)')


def check_checkpoint_fits(model_cfg: dict,
                          filename: str,
                          strict: bool = True,
                          used_as: str = 'load_from') -> None:
    """Raise :class:`CheckpointError` unless ``filename`` holds weights of the model ``model_cfg`` builds.

    The file is mapped, not read, and the model is built on the meta device
    (no memory, no weights files read), so this runs at start-up in a
    second or two. It fails, naming the file, when the checkpoint is
    damaged, of the wrong stage (:data:`EXPECTED_KINDS`), of an unrelated
    model (none of its weights fit), or of another size (shapes differ: the
    config key of the network is named). ``strict``: every weight of the
    model must be in the file, and nothing more (evaluation, resuming);
    otherwise a partial load is fine, as with mmengine's ``load_from``.
    """
    state = read_state_dict(filename)
    model_type = model_cfg.get('type')
    extractor = model_cfg.get('extractor')
    checked_type = (extractor.get('type') if model_type ==
                    'LabelPropagationModel' and isinstance(extractor, dict)
                    else model_type)
    kind = checkpoint_kind(state)
    if checked_type in EXPECTED_KINDS:
        kinds, hint = EXPECTED_KINDS[checked_type]
        if strict and checked_type == 'CoordGANInversion':
            kinds = (ENCODER_STAGE, )  # resuming needs the encoder too
        if kind not in kinds:
            raise CheckpointError(kind_error(
                filename, kind, f'{used_as} needs '
                f'{KIND_DESCRIPTIONS[kinds[0]]}', hint) +
                f' (its top-level names: {top_level_names(state)})')
    model = _meta_model(model_cfg)
    if model is None:
        return  # the real build reports what is wrong with the config
    own = set(model.state_dict())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            result = model.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as err:
        mismatches = _SIZE_MISMATCH.findall(str(err))
        if not mismatches:
            raise CheckpointError(f'{filename}: {_first_line(err)}') from None
        key, theirs, ours = mismatches[0]
        raise CheckpointError(
            f'{filename} is a checkpoint of another size: '
            f'{len(mismatches)} weights do not fit the configured model, e.g. '
            f'{key} is ({theirs}) in the file but ({ours}) as configured by '
            f'{_config_path(model_cfg, key)}. Make the config match the one '
            'the checkpoint was trained with') from None
    except ValueError as err:  # the model's own checkpoint adapters
        raise CheckpointError(f'{filename}: {err}') from None
    missing = set(result.missing_keys)
    if not own:
        raise CheckpointError(
            f'{filename} was given, but the configured model ({checked_type})'
            ' has no weights to load: run it without a checkpoint')
    unexpected = list(result.unexpected_keys)
    if missing >= own or len(unexpected) >= len(state):
        raise CheckpointError(
            f'{filename} holds none of the weights of model type '
            f'{model_type} ({KIND_DESCRIPTIONS[kind]}; its top-level names: '
            f'{top_level_names(state)}, the model\'s: '
            f'{sorted({k.split(".")[0] for k in own})[:6]})')
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f'lacks {len(missing)} weights of the configured '
                         f'model (e.g. {sorted(missing)[:3]}, configured by '
                         f'{_config_path(model_cfg, sorted(missing)[0])})')
        if unexpected:
            parts.append(f'holds {len(unexpected)} weights the model does '
                         f'not have (e.g. {sorted(unexpected)[:3]})')
        raise CheckpointError(
            f'{filename} does not fit the configured model: '
            f'{"; ".join(parts)}. It is a checkpoint of another model '
            'variant: make the config match the one it was trained with')


def _meta_model(model_cfg: dict):
    """``model_cfg`` built on the meta device, quietly, with nothing read from disk; None if it does not build."""
    from coordgan.registry import MODELS  # built lazily: no upward import
    cfg = _without_files(copy.deepcopy(dict(model_cfg)))
    try:
        with quiet_logger(), warnings.catch_warnings(), torch.device('meta'):
            warnings.simplefilter('ignore')
            return MODELS.build(cfg)
    except Exception:  # noqa: BLE001 the real build reports it, with its path
        return None


def _without_files(cfg):
    """A config whose parts read no files when built: no checkpoints, a random LPIPS backbone."""
    if isinstance(cfg, dict):
        out = {k: _without_files(v) for k, v in cfg.items()}
        for key in ('generator_checkpoint', 'checkpoint'):
            if key in out and not isinstance(out[key], dict):
                out[key] = None
        if out.get('type') == 'LPIPS':
            out.update(random_backbone=True, linear_weights=None)
        if (out.get('type') in ('CoordGAN', 'CoordGANInversion')
                and out.get('perceptual') is None):
            out['perceptual'] = dict(type='LPIPS', random_backbone=True)
        if isinstance(out.get('random_weights'), bool):
            out['random_weights'] = True  # baselines: no ImageNet file
        out.pop('init_cfg', None)
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_without_files(v) for v in cfg)
    return cfg


def _config_path(model_cfg: dict, key: str) -> str:
    """The config key of the network that owns weight ``key`` (``model.generator``), as deep as the config goes."""
    parts, node, path = key.split('.'), model_cfg, 'model'
    for part in parts:
        if isinstance(node, dict) and isinstance(node.get(part), dict):
            node, path = node[part], f'{path}.{part}'
        elif part == 'generator_ema' and isinstance(node, dict) and \
                isinstance(node.get('generator'), dict):
            node, path = node['generator'], f'{path}.generator'
        else:
            break
    return path


@contextmanager
def quiet_logger() -> Iterator[None]:
    """Silence the current logger below ERROR (a throw-away build must not log)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    handlers = [(h, h.level) for h in logger.handlers]
    logger.setLevel('ERROR')
    for handler, _ in handlers:
        handler.setLevel('ERROR')
    try:
        yield
    finally:
        logger.setLevel(level)
        for handler, old in handlers:
            handler.setLevel(old)
