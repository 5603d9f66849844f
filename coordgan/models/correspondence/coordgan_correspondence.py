"""CoordGAN's correspondence for real images: encoder -> w_s -> warper -> C^w."""
from typing import Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from coordgan.ops import resize_to
from coordgan.registry import ENCODERS, FEATURE_EXTRACTORS, GENERATORS
from .base import BaseCorrespondence


@FEATURE_EXTRACTORS.register_module()
class CoordGANCorrespondence(BaseCorrespondence):
    """Descriptor = C^w (B, 2, 128, 128) of the encoded structure code.

    ``checkpoint`` is a stage-2 (``CoordGANInversion``) checkpoint holding
    ``encoder.*`` and ``generator.*`` weights; ``tools/test.py CONFIG CKPT``
    fills it in.
    """

    def __init__(self, encoder: dict, generator: dict,
                 checkpoint: Optional[str] = None, input_size: int = 128,
                 tau: float = 0.01, squared: bool = False):
        super().__init__(input_size, tau, squared)
        self.encoder = ENCODERS.build(encoder)
        self.generator = GENERATORS.build(generator)
        if checkpoint is not None:
            self.load_inversion_checkpoint(checkpoint)
        self.requires_grad_(False).eval()

    def load_inversion_checkpoint(self, path: str) -> None:
        """Load encoder and generator weights of a stage-2 checkpoint (strict)."""
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
        for name in ('encoder', 'generator'):
            prefix = name + '.'
            weights = {k[len(prefix):]: v for k, v in state.items()
                       if k.startswith(prefix)}
            if not weights:
                raise ValueError(
                    f'{path}: no {prefix}* weights; expected a CoordGAN '
                    'encoder-stage (CoordGANInversion) checkpoint')
            try:
                getattr(self, name).load_state_dict(weights)
            except RuntimeError as err:
                raise ValueError(
                    f'{path}: {name} weights do not fit the configured '
                    f'{name}: {err}') from None

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        images = resize_to(images, self.encoder.in_size)
        return self.generator.warp(self.encoder(images).w_s)
