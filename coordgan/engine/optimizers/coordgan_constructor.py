"""One optimizer per trained part, with the lazy-regularisation lr/beta correction."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from coordgan.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               OPTIMIZERS)


def lazy_regularization_correction(lr: float, betas: Tuple[float, float],
                                   reg_interval: Optional[int]
                                   ) -> Tuple[float, Tuple[float, float]]:
    """lr * c and betas ** c with c = k / (k + 1) for a regulariser applied every k steps.

    A regularised network takes k + 1 optimizer steps per k iterations; the
    correction keeps its effective lr and momentum horizon those of plain Adam
    (StyleGAN2, appendix B). ``reg_interval=None`` leaves both unchanged.
    """
    if reg_interval is None:
        return lr, tuple(betas)
    if reg_interval < 1:
        raise ValueError(f'reg_interval must be >= 1, got {reg_interval}')
    c = reg_interval / (reg_interval + 1)
    return lr * c, tuple(b**c for b in betas)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GANOptimWrapperConstructor:
    """Builds an :class:`OptimWrapperDict`, one wrapper per entry of the config.

    Example (REFERENCE.md section 5)::

        optim_wrapper = dict(
            constructor='GANOptimWrapperConstructor',
            generator=dict(modules=['generator'], reg_interval=4,
                           optimizer=dict(type='Adam', lr=0.002, betas=(0., 0.99))),
            discriminator=dict(modules=['discriminator', 'patch_discriminator'],
                               reg_interval=16,
                               optimizer=dict(type='Adam', lr=0.002, betas=(0., 0.99))))

    ``modules`` name the model attributes whose parameters the optimizer
    owns; ``reg_interval`` applies :func:`lazy_regularization_correction`.
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg:
            raise ValueError('GANOptimWrapperConstructor does not support '
                             'paramwise_cfg')
        if not optim_wrapper_cfg:
            raise ValueError('optim_wrapper needs at least one entry')
        self.cfgs = {k: dict(v) for k, v in optim_wrapper_cfg.items()}

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.cfgs.items():
            cfg = dict(cfg)
            modules: Sequence[str] = cfg.pop('modules', [name])
            reg_interval = cfg.pop('reg_interval', None)
            optimizer = dict(cfg.pop('optimizer'))
            lr, betas = lazy_regularization_correction(
                optimizer['lr'], optimizer.get('betas', (0.9, 0.999)),
                reg_interval)
            optimizer.update(lr=lr, betas=betas)
            params = []
            for attr in modules:
                if not hasattr(model, attr):
                    raise AttributeError(
                        f'optim_wrapper.{name}.modules names {attr!r}, which '
                        f'{type(model).__name__} does not have')
                params += list(getattr(model, attr).parameters())
            optimizer['params'] = params
            cfg.setdefault('type', 'OptimWrapper')
            cfg['optimizer'] = OPTIMIZERS.build(optimizer)
            wrappers[name] = OPTIM_WRAPPERS.build(cfg)
        return OptimWrapperDict(**wrappers)
