"""CoordGAN stage 2: an encoder that inverts the frozen generator (REFERENCE.md section 7)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.runner.checkpoint import CheckpointLoader

from coordgan.ops import pair_swap, resize_to
from coordgan.registry import ENCODERS, GENERATORS, LOSSES, MODELS
from coordgan.utils import CheckpointError, checkpoint_kind
from coordgan.utils.checkpoint import KIND_DESCRIPTIONS
from ..generators import GeneratorOutput
from ..losses import BaseLoss, StepOutputs
from .common import IMAGE_PREPROCESSOR, keep_out_of_checkpoints
from .nonfinite import SkipNonFiniteMixin
from .random_stream import RandomStreamMixin

STAGE1_PREFIX = 'generator_ema.'
# HalfLifeEMA's update counter, saved beside the EMA generator's weights.
EMA_STEPS_KEY = STAGE1_PREFIX + 'steps'
# The authors' code (REFERENCE.md section 7): reconstruction 10 * L1 +
# 10 * LPIPS, texture swap 5 * LPIPS, latent consistency 10 * L1 on w_s and
# on C^w (``norm='l2'``: the paper).
DEFAULT_LOSSES = dict(
    rec_l1=dict(type='ReconstructionLoss', loss_weight=10.0,
                distance=dict(type='L1Distance')),
    rec_lpips=dict(type='ReconstructionLoss', loss_weight=10.0),
    texture_swap=dict(type='InversionTextureSwapLoss', loss_weight=5.0),
    latent_code=dict(type='LatentCodeLoss', loss_weight=10.0, norm='l1'),
    latent_coords=dict(type='LatentCoordsLoss', loss_weight=10.0,
                       norm='l1'))


def load_stage1_generator(generator: nn.Module, path: str) -> None:
    """Copy a CoordGAN stage-1 checkpoint's EMA generator into ``generator`` (strict).

    Not mmengine's ``load_checkpoint(..., revise_keys=...)``: key revision
    renames every entry but cannot select the ``generator_ema.*`` subset of
    a full stage-1 checkpoint, so loading into the generator would have to
    be non-strict (the D's and G's entries left over), and a generator of
    the wrong config would then load half-way with a warning. Here the
    subset is loaded strictly, and a shape mismatch names the config key.
    """
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{path}: not a checkpoint (expected a dict with a '
                         f'state_dict, got {type(ckpt).__name__})')
    weights = {k[len(STAGE1_PREFIX):]: v for k, v in state.items()
               if k.startswith(STAGE1_PREFIX) and k != EMA_STEPS_KEY}
    if not weights:
        raise CheckpointError(
            f'{path}: not a CoordGAN stage-1 checkpoint (no '
            f'{STAGE1_PREFIX}* weights; keys start with '
            f'{sorted({k.split(".")[0] for k in state})[:5]}): it is '
            f'{KIND_DESCRIPTIONS[checkpoint_kind(state)]}. '
            'model.generator_checkpoint takes the stage-1 checkpoint '
            '(work_dirs/coordgan_*/iter_*.pth)')
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
class CoordGANInversion(SkipNonFiniteMixin, RandomStreamMixin, BaseModel):
    """Trains an encoder E with G frozen: codes E(x) make G rebuild x.

    Losses are plug-ins of the ``'encoder'`` step, as in stage 1: every
    configured loss whose ``phases`` include ``'encoder'`` reads the step's
    outputs (see ``coordgan/models/losses/inversion_losses.py``) and adds its
    weighted value, logged as ``loss_<name>``. The default
    (:data:`DEFAULT_LOSSES`): reconstruction ``rec_l1`` (L1) + ``rec_lpips``
    (LPIPS) of x and G(E(x)); ``texture_swap``, LPIPS of x and G(w_s, W+ of
    the pair partner); latent consistency on generated samples,
    ``latent_code`` |w_s - w_s,E| and ``latent_coords`` |C^w - C^w_E|.
    Not a default: ``EquivarianceLoss``, C^w of a moved real image against
    C^w moved with it (an addition of this library, not the paper's).
    An update with a non-finite loss or gradient is skipped and counted
    (:class:`SkipNonFiniteMixin`).

    Args:
        losses: loss configs by name; entries update :data:`DEFAULT_LOSSES`
            key by key (``None`` removes a term; ``_delete_`` in a config
            file replaces them all). E.g. ``texture_swap=dict(distance=
            dict(type='EdgeDistance'))`` compares that term's pictures blind
            to colour (the images have different textures).
        encoder, generator: network configs (the generator as in stage 1).
        generator_checkpoint: a stage-1 checkpoint; its ``generator_ema``
            weights are loaded and frozen. A stage-1 checkpoint given as the
            Runner's ``load_from`` is understood too.
        sample_texture: the texture codes of the generated samples the
            latent-consistency terms read. ``'prior'`` (paper and code):
            mapped from random z_t. ``'encoded'``: the W+ the encoder gives
            the step's real images (no gradient), so the samples have a
            random structure and real images' colours (not in the paper).
        sample_structure_noise: Gaussian noise added to the generated
            samples' structure codes w_s, in units of the per-dimension
            standard deviation of the mapping net's codes (0: the paper's
            samples, on the mapping net's range). Above 0 the latent terms
            also train the encoder on codes off that range, which the warper
            can draw (not in the paper). The standard deviation is measured
            once, from 4096 codes of a fixed random stream.
    """

    SAMPLE_TEXTURES = ('prior', 'encoded')

    def __init__(self,
                 encoder: dict,
                 generator: dict,
                 generator_checkpoint: Optional[str] = None,
                 perceptual: Optional[dict] = None,
                 losses: Optional[dict] = None,
                 sample_texture: str = 'prior',
                 sample_structure_noise: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or
                         IMAGE_PREPROCESSOR,
                         init_cfg=init_cfg)
        if sample_texture not in self.SAMPLE_TEXTURES:
            raise ValueError(f'sample_texture must be one of '
                             f'{self.SAMPLE_TEXTURES}, got {sample_texture!r}')
        self.sample_texture = sample_texture
        if not sample_structure_noise >= 0:
            raise ValueError(f'sample_structure_noise must be >= 0, got '
                             f'{sample_structure_noise!r}')
        self.sample_structure_noise = float(sample_structure_noise)
        self._code_std: Optional[torch.Tensor] = None
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
        keep_out_of_checkpoints(self, 'perceptual')
        configured = {k: dict(v) for k, v in DEFAULT_LOSSES.items()}
        for name, cfg in (losses or {}).items():
            if cfg is None or name not in configured or 'type' in cfg:
                configured[name] = cfg
            else:
                configured[name].update(cfg)
        self.losses = nn.ModuleDict()
        for name, cfg in configured.items():
            if cfg is None:
                continue
            loss = LOSSES.build(cfg)
            if not isinstance(loss, BaseLoss) or 'encoder' not in loss.phases:
                raise TypeError(
                    f'losses.{name}: {type(loss).__name__} is not a loss of '
                    f'the encoder step (a BaseLoss with "encoder" in its '
                    f'phases; got {getattr(loss, "phases", None)})')
            self.losses[name] = loss
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))
        self._register_load_state_dict_pre_hook(self._accept_stage1_state)

    @staticmethod
    def _accept_stage1_state(state_dict, prefix, *args) -> None:
        # Encoder checkpoints from before the iteration counter start at 0.
        state_dict.setdefault(prefix + 'iteration',
                              torch.zeros((), dtype=torch.long))
        # load_from=<stage-1 checkpoint>: its EMA generator is our generator.
        state_dict.pop(prefix + EMA_STEPS_KEY, None)
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

    @torch.no_grad()
    def structure_code_std(self, num: int = 4096) -> torch.Tensor:
        """Per-dimension std (style_dim,) of the mapping net's structure codes.

        From ``num`` codes of a fixed random stream, once: the generator is
        frozen, so the value is the same after a resume.
        """
        if self._code_std is None:
            gen = self.generator
            device = next(gen.parameters()).device
            rng = torch.Generator(device=device).manual_seed(0)
            z_s, _ = gen.sample_codes(num, device, rng)
            self._code_std = gen.map_structure(z_s).std(dim=0)
        return self._code_std

    def train_step(self, data, optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        real = self.data_preprocessor(data, True)['inputs']
        if real.shape[0] % 2:
            raise ValueError(f'the texture-swap loss pairs images: batch size '
                             f'must be even, got {real.shape[0]}')
        wrapper = optim_wrapper['encoder']
        gen = self.generator
        num, device = real.shape[0], real.device
        rng = self.step_generator(device)
        self.start_iteration()
        with wrapper.optim_context(self.encoder):
            w_s, w_plus = self.encoder(self.encoder_input(real))
            rec = gen.synthesize(w_s, w_plus,
                                 gen.make_noise(num, device, rng))
            swap = gen.synthesize(w_s, pair_swap(w_plus),
                                  gen.make_noise(num, device, rng)).image
            with torch.no_grad():
                z_s, z_t = gen.sample_codes(num, device, rng)
                ws_gen = gen.map_structure(z_s)
                if self.sample_structure_noise > 0:
                    ws_gen = ws_gen + (self.sample_structure_noise *
                                       self.structure_code_std() *
                                       torch.randn(ws_gen.shape,
                                                   device=device,
                                                   generator=rng))
                texture = (w_plus.detach() if self.sample_texture == 'encoded'
                           else gen.map_texture(z_t))
                sample = gen.synthesize(ws_gen, texture,
                                        gen.make_noise(num, device, rng))
            ws_enc = self.encoder(self.encoder_input(sample.image)).w_s
            step = StepOutputs(
                iteration=int(self.iteration), rng=rng, real=real,
                rec=rec.image, real_corr_map_enc=rec.corr_map,
                correspondence_map=self.correspondence_map, swap=swap,
                sample=sample, sample_w_s=ws_gen,
                sample_w_s_enc=ws_enc, sample_corr_map_enc=gen.warp(ws_enc),
                perceptual=self.perceptual, generator=gen)
            losses = {
                f'loss_{name}': loss.weighted('encoder', step)
                for name, loss in self.losses.items()
                if loss.active('encoder', step)
            }
        log = self.update_or_skip('encoder', int(self.iteration), wrapper,
                                  losses)
        self.iteration += 1
        log.update(self.skip_log(device))
        return log

    def forward(self, inputs=None, data_samples=None, mode: str = 'tensor'):
        """``inputs`` (B, 3, S, S) in [-1, 1] -> G(E(x)) (image and C^w)."""
        if mode == 'loss':
            raise NotImplementedError('train through train_step')
        return self.invert(inputs)
