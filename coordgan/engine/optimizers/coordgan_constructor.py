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
                               optimizer=dict(type='Adam', lr=0.002, betas=(0., 0.99))))

    ``modules`` name the model attributes whose parameters the optimizer
    owns; parameters with ``requires_grad=False`` (``model.frozen``) are
    left out. The lazy-regularisation interval that
    :func:`lazy_regularization_correction` needs is read from the model
    (``model.regularization_interval(modules)``: the interval of the
    regularizer losses of those modules), so it is defined once, in the
    loss config. ``reg_interval`` sets it where the model has none for
    those modules (the reference corrects G's optimizer for an interval of 4
    although CoordGAN has no G regularizer); given where the model has one,
    it must agree.
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg:
            raise ValueError('GANOptimWrapperConstructor does not support '
                             'paramwise_cfg')
        if not optim_wrapper_cfg:
            raise ValueError('optim_wrapper needs at least one entry')
        self.cfgs = {k: dict(v) for k, v in optim_wrapper_cfg.items()}

    @staticmethod
    def _reg_interval(model: nn.Module, name: str, modules: Sequence[str],
                      configured: Optional[int]) -> Optional[int]:
        from_model = None
        if hasattr(model, 'regularization_interval'):
            from_model = model.regularization_interval(modules)
        if from_model is None:
            return configured
        if configured is not None and configured != from_model:
            raise ValueError(
                f'optim_wrapper.{name}.reg_interval={configured}, but the '
                f'model regularises {list(modules)} every {from_model} '
                f'iterations (the regularizer losses\' interval); leave '
                f'reg_interval out, it is read from the model')
        return from_model

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.cfgs.items():
            cfg = dict(cfg)
            modules: Sequence[str] = cfg.pop('modules', [name])
            reg_interval = self._reg_interval(model, name, modules,
                                              cfg.pop('reg_interval', None))
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
                params += [p for p in getattr(model, attr).parameters()
                           if p.requires_grad]
            if not params:
                raise ValueError(
                    f'optim_wrapper.{name}: the modules {list(modules)} have '
                    f'no trainable parameters (all frozen?)')
            optimizer['params'] = params
            cfg.setdefault('type', 'OptimWrapper')
            cfg['optimizer'] = OPTIMIZERS.build(optimizer)
            wrappers[name] = OPTIM_WRAPPERS.build(cfg)
        return OptimWrapperDict(**wrappers)
