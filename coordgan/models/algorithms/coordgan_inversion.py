"""CoordGAN stage 2: an encoder that inverts the frozen generator (REFERENCE.md section 7)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.runner.checkpoint import CheckpointLoader

from coordgan.ops import pair_swap, resize_to
from coordgan.registry import ENCODERS, GENERATORS, LOSSES, MODELS
from ..generators import GeneratorOutput
from .common import IMAGE_PREPROCESSOR
from .random_stream import RandomStreamMixin

STAGE1_PREFIX = 'generator_ema.'
LATENT_NORMS = ('l1', 'l2')


def load_stage1_generator(generator: nn.Module, path: str) -> None:
    """Copy a CoordGAN stage-1 checkpoint's EMA generator into ``generator`` (strict)."""
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{path}: not a checkpoint (expected a dict with a '
                         f'state_dict, got {type(ckpt).__name__})')
    weights = {k[len(STAGE1_PREFIX):]: v for k, v in state.items()
               if k.startswith(STAGE1_PREFIX)}
    if not weights:
        raise ValueError(
            f'{path}: not a CoordGAN stage-1 checkpoint (no '
            f'{STAGE1_PREFIX}* weights; keys start with '
            f'{sorted({k.split(".")[0] for k in state})[:5]})')
    own = generator.state_dict()
    for key, value in weights.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f'{path}: {STAGE1_PREFIX}{key} has shape '
                f'{tuple(value.shape)} but the configured generator expects '
                f'{tuple(own[key].shape)}; make model.generator match the '
                'stage-1 config')
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if missing or unexpected:
        raise ValueError(
            f'{path}: generator weights do not match the configured '
            f'generator (missing {missing[:3]}, unexpected {unexpected[:3]})')
    generator.load_state_dict(weights)


@MODELS.register_module()
class CoordGANInversion(RandomStreamMixin, BaseModel):
    """Trains an encoder E with G frozen: codes E(x) make G rebuild x.

    Losses (weights in ``loss_weights``): reconstruction ``rec_l1`` * L1 +
    ``rec_lpips`` * LPIPS(x, G(E(x))); ``texture_swap`` * LPIPS(x, G(w_s,
    W+ of the pair partner)); latent consistency on generated samples,
    ``latent_code`` * |w_s - w_s,E| + ``latent_coords`` * |C^w - C^w_E|
    (``latent_norm='l1'``, the code; ``'l2'``, the paper).

    Args:
        texture_swap_distance: a LOSSES config that replaces LPIPS in the
            texture-swap term only (e.g. ``dict(type='EdgeDistance')``: the
            two images have different textures, so a distance blind to
            colour); by default the shared LPIPS, as in the paper.
        encoder, generator: network configs (the generator as in stage 1).
        generator_checkpoint: a stage-1 checkpoint; its ``generator_ema``
            weights are loaded and frozen. A stage-1 checkpoint given as the
            Runner's ``load_from`` is understood too.
    """

    def __init__(self,
                 encoder: dict,
                 generator: dict,
                 generator_checkpoint: Optional[str] = None,
                 perceptual: Optional[dict] = None,
                 loss_weights: Optional[dict] = None,
                 latent_norm: str = 'l1',
                 texture_swap_distance: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or
                         IMAGE_PREPROCESSOR,
                         init_cfg=init_cfg)
        if latent_norm not in LATENT_NORMS:
            raise ValueError(f'latent_norm must be one of {LATENT_NORMS}, '
                             f'got {latent_norm!r}')
        self.encoder = ENCODERS.build(encoder)
        self.generator = GENERATORS.build(generator)
        if self.generator.num_latents != self.encoder.num_latents:
            raise ValueError(
                f'encoder.num_latents={self.encoder.num_latents} but the '
                f'generator takes {self.generator.num_latents} W+ codes')
        if generator_checkpoint is not None:
            load_stage1_generator(self.generator, generator_checkpoint)
        self.generator.requires_grad_(False).eval()
        self.perceptual = LOSSES.build(perceptual or dict(type='LPIPS'))
        self.texture_swap_distance = (None if texture_swap_distance is None
                                      else LOSSES.build(texture_swap_distance))
        self.loss_weights = dict(rec_l1=10.0, rec_lpips=10.0,
                                 texture_swap=5.0, latent_code=10.0,
                                 latent_coords=10.0)
        unknown = set(loss_weights or {}) - set(self.loss_weights)
        if unknown:
            raise KeyError(f'loss_weights.{sorted(unknown)[0]}: unknown; '
                           f'expected {sorted(self.loss_weights)}')
        self.loss_weights.update(loss_weights or {})
        self.latent_norm = latent_norm
        self._register_load_state_dict_pre_hook(self._accept_stage1_state)

    @staticmethod
    def _accept_stage1_state(state_dict, prefix, *args) -> None:
        # load_from=<stage-1 checkpoint>: its EMA generator is our generator.
        ema = [k for k in state_dict if k.startswith(prefix + STAGE1_PREFIX)]
        if ema and not any(k.startswith(prefix + 'encoder.')
                           for k in state_dict):
            for key in [k for k in state_dict
                        if k.startswith(prefix + 'generator.')]:
                del state_dict[key]
            for key in ema:
                new = prefix + 'generator.' + key[len(prefix +
                                                      STAGE1_PREFIX):]
                state_dict[new] = state_dict.pop(key)

    def train(self, mode: bool = True) -> 'CoordGANInversion':
        super().train(mode)
        self.generator.eval()  # frozen: no training-mode behaviour
        return self

    def encoder_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images at any size -> the encoder's input size (bilinear)."""
        return resize_to(images, self.encoder.in_size)

    def invert(self, images: torch.Tensor) -> GeneratorOutput:
        """Real images (B, 3, S, S) in [-1, 1] -> G(E(x)): reconstruction and C^w."""
        w_s, w_plus = self.encoder(self.encoder_input(images))
        return self.generator.synthesize(w_s, w_plus)

    def correspondence_map(self, images: torch.Tensor) -> torch.Tensor:
        """Real images -> C^w (B, 2, G, G) of their encoded structure code."""
        return self.generator.warp(
            self.encoder(self.encoder_input(images)).w_s)

    def _latent_distance(self, a: torch.Tensor,
                         b: torch.Tensor) -> torch.Tensor:
        if self.latent_norm == 'l1':
            return F.l1_loss(a, b)
        return F.mse_loss(a, b)

    def train_step(self, data, optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        real = self.data_preprocessor(data, True)['inputs']
        if real.shape[0] % 2:
            raise ValueError(f'the texture-swap loss pairs images: batch size '
                             f'must be even, got {real.shape[0]}')
        wrapper = optim_wrapper['encoder']
        w = self.loss_weights
        gen = self.generator
        num, device = real.shape[0], real.device
        rng = self.step_generator(device)
        with wrapper.optim_context(self.encoder):
            w_s, w_plus = self.encoder(self.encoder_input(real))
            rec = gen.synthesize(w_s, w_plus,
                                 gen.make_noise(num, device, rng)).image
            swap = gen.synthesize(w_s, pair_swap(w_plus),
                                  gen.make_noise(num, device, rng)).image
            swap_distance = (self.perceptual
                             if self.texture_swap_distance is None else
                             self.texture_swap_distance)
            losses = dict(
                loss_rec_l1=w['rec_l1'] * F.l1_loss(rec, real),
                loss_rec_lpips=w['rec_lpips'] *
                self.perceptual(rec, real).mean(),
                loss_texture_swap=w['texture_swap'] *
                swap_distance(swap, real).mean())
            with torch.no_grad():
                z_s, z_t = gen.sample_codes(num, device, rng)
                ws_gen = gen.map_structure(z_s)
                sample = gen.synthesize(ws_gen, gen.map_texture(z_t),
                                        gen.make_noise(num, device, rng))
            ws_enc = self.encoder(self.encoder_input(sample.image)).w_s
            losses['loss_latent_code'] = w['latent_code'] * \
                self._latent_distance(ws_enc, ws_gen)
            losses['loss_latent_coords'] = w['latent_coords'] * \
                self._latent_distance(gen.warp(ws_enc), sample.corr_map)
        loss, log = self.parse_losses(losses)
        wrapper.update_params(loss)
        return log

    def forward(self, inputs=None, data_samples=None, mode: str = 'tensor'):
        """``inputs`` (B, 3, S, S) in [-1, 1] -> G(E(x)) (image and C^w)."""
        if mode == 'loss':
            raise NotImplementedError('train through train_step')
        return self.invert(inputs)
