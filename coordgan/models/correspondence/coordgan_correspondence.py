"""CoordGAN's correspondence for real images: encoder -> w_s -> warper -> C^w."""
from typing import Dict, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from coordgan.ops import resize_to
from coordgan.registry import ENCODERS, FEATURE_EXTRACTORS, GENERATORS
from coordgan.utils import CheckpointError, checkpoint_kind
from coordgan.utils.checkpoint import (ENCODER_STAGE, KIND_DESCRIPTIONS,
                                       top_level_names)
from .base import BaseCorrespondence

_PARTS = ('encoder', 'generator')


@FEATURE_EXTRACTORS.register_module()
class CoordGANCorrespondence(BaseCorrespondence):
    """Descriptor = C^w (B, 2, G, G) of the encoded structure code.

    Weights come from a stage-2 (``CoordGANInversion``) checkpoint holding
    ``encoder.*`` and ``generator.*``: ``tools/test.py CONFIG CKPT`` loads it
    through the Runner (see :meth:`adapt_checkpoint`), or ``checkpoint=``
    loads it at build time. Evaluating without weights is an error unless
    ``random_weights=True`` (then tables say so).

    ``map_size`` reads C^w on a finer grid than the generator's (the warper
    is a function of canonical position; REFERENCE.md section 9 compares
    C^w at its own 128 points): on a 32-point model, matching at 64 places
    a match within a quarter of a 32-grid cell instead of a half.
    """

    requires_checkpoint = True

    def __init__(self, encoder: dict, generator: dict,
                 checkpoint: Optional[str] = None, input_size: int = 128,
                 tau: float = 0.01, squared: bool = False,
                 random_weights: bool = False,
                 map_size: Optional[int] = None):
        super().__init__(input_size, tau, squared)
        if map_size is not None and map_size < 2:
            raise ValueError(f'CoordGANCorrespondence: map_size must be >= 2 '
                             f'or None (the generator grid), got {map_size}')
        self.map_size = map_size
        self.encoder = ENCODERS.build(encoder)
        self.generator = GENERATORS.build(generator)
        self.random_weights = bool(random_weights)
        self.weights_loaded = False
        if checkpoint is not None:
            self.load_inversion_checkpoint(checkpoint)
        self.requires_grad_(False).eval()

    @property
    def display_name(self) -> str:
        return 'CoordGAN (random weights)' if self.random_weights \
            else 'CoordGAN'

    def adapt_checkpoint(self, state: Dict[str, torch.Tensor],
                         source: str = 'checkpoint'
                         ) -> Dict[str, torch.Tensor]:
        """A stage-2 model's state dict -> this module's (``encoder.*``, ``generator.*`` kept)."""
        kept = {k: v for k, v in state.items() if k.split('.')[0] in _PARTS}
        for name in _PARTS:
            if not any(k.startswith(name + '.') for k in kept):
                kind = checkpoint_kind(state)
                raise CheckpointError(
                    f'{source}: no {name}.* weights (top-level keys: '
                    f'{top_level_names(state)}): it is '
                    f'{KIND_DESCRIPTIONS[kind]}; CoordGAN is evaluated with '
                    f'{KIND_DESCRIPTIONS[ENCODER_STAGE]}, such as '
                    'work_dirs/coordgan-encoder_*/iter_*.pth')
        self.weights_loaded = True
        return kept

    def load_inversion_checkpoint(self, path: str) -> None:
        """Load encoder and generator weights of a stage-2 checkpoint (strict)."""
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
        state = self.adapt_checkpoint(state, path)
        for name in _PARTS:
            prefix = name + '.'
            weights = {k[len(prefix):]: v for k, v in state.items()
                       if k.startswith(prefix)}
            try:
                getattr(self, name).load_state_dict(weights)
            except RuntimeError as err:
                raise CheckpointError(
                    f'{path}: {name} weights do not fit the configured '
                    f'{name}: {err}') from None

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        images = resize_to(images, self.encoder.in_size)
        return self.generator.warp(self.encoder(images).w_s, self.map_size)
