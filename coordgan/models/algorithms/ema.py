"""The generator's EMA: mmengine's ExponentialMovingAverage, its momentum set by a half-life."""
from collections import OrderedDict

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage

from coordgan.registry import MODELS


def half_life_momentum(images_per_step: float, half_life_images: float) -> float:
    """mmengine's EMA momentum (weight of the new value) for a half-life in images.

    After ``half_life_images`` images, i.e. ``half_life / images_per_step``
    updates, the old average keeps half its weight: ``1 - 0.5 ** (n / h)``
    (StyleGAN2's ``ema_kimg``; REFERENCE.md section 5).
    """
    if not half_life_images > 0:
        raise ValueError(f'EMA half-life must be > 0 images, got '
                         f'{half_life_images}')
    return 1.0 - 0.5**(images_per_step / half_life_images)


@MODELS.register_module()
class HalfLifeEMA(ExponentialMovingAverage):
    """:class:`mmengine.model.ExponentialMovingAverage` with a half-life in images.

    The images per update are only known during training (per-device batch
    times world size), so :meth:`update` sets mmengine's ``momentum`` from
    the half-life before each ``update_parameters``. As in mmengine, the
    first update (``steps == 0``) copies the source, later ones average;
    buffers follow the source.

    Checkpoint layout: the averaged network's entries are saved under the
    wrapper's own prefix (``generator_ema.<name>``, not mmengine's
    ``generator_ema.module.<name>``), plus ``generator_ema.steps``. Key for
    key they are the trained generator's (``generator.<name>``), which the
    encoder stage, the 512 stage's ``key_map`` and checkpoints written before
    this class read. Loading accepts either layout; a state without
    ``steps`` (an older checkpoint) counts as already averaged, so its
    weights are not overwritten by the first update.

    Args:
        model: the network to average (copied).
        half_life_images: images seen after which the old average keeps
            half its weight.
        interval, device, update_buffers: as in mmengine.
    """

    def __init__(self,
                 model: nn.Module,
                 half_life_images: float,
                 interval: int = 1,
                 device=None,
                 update_buffers: bool = False):
        # Momentum for one image per update until update() knows the batch.
        super().__init__(model, half_life_momentum(1, half_life_images),
                         interval, device, update_buffers)
        self.half_life_images = float(half_life_images)
        self.register_state_dict_post_hook(_flatten_state)
        self.register_load_state_dict_pre_hook(_nest_state)

    @torch.no_grad()
    def update(self, model: nn.Module, images_per_step: int) -> None:
        """One EMA update after a step that showed ``images_per_step`` images (all devices)."""
        self.momentum = half_life_momentum(images_per_step,
                                           self.half_life_images)
        self.update_parameters(model)


def _flatten_state(module, state_dict, prefix, local_metadata) -> None:
    inner = prefix + 'module.'
    entries = list(state_dict.items())
    state_dict.clear()
    for key, value in entries:
        if key.startswith(inner):
            key = prefix + key[len(inner):]
        state_dict[key] = value


def _nest_state(module, state_dict, prefix, local_metadata, strict,
                missing_keys, unexpected_keys, error_msgs) -> None:
    steps = prefix + 'steps'
    inner = prefix + 'module.'
    ours = [k for k in state_dict
            if k.startswith(prefix) and k != steps and
            not k.startswith(inner)]
    for key in ours:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)
    if (steps not in state_dict and
            any(k.startswith(inner) for k in state_dict)):
        state_dict[steps] = torch.ones((), dtype=torch.long)
