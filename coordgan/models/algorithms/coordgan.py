"""CoordGAN training (stage 1): one iteration as in REFERENCE.md section 5."""
import copy
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import get_world_size
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict

from coordgan.ops import coordinate_spread, pair_swap
from coordgan.registry import (DISCRIMINATORS, GENERATORS, LOSSES, MODELS)
from ..generators import GeneratorOutput
from .common import IMAGE_PREPROCESSOR, fp32, unwrap
from .random_stream import RandomStreamMixin

# The terms of the objective, by name (REFERENCE.md sections 5-6); their
# weights, warm-ups and variants come from the config
# (configs/_base_/models/coordgan_128.py holds the reference code's values).
LOSS_NAMES = ('gan', 'r1', 'structure_swap', 'patch_r1', 'texture_swap',
              'warp', 'chamfer')
# How the D step weights its logistic losses (REFERENCE.md section 5):
# 'as_generator' (the authors' code) gives the image-D loss the weight and
# warm-up of the G-side GAN loss and the patch-D loss those of the structure
# swap (so it is off while that weight is 0); 'unit' (the paper) weights both
# 1 from the first iteration.
D_LOSS_WEIGHTINGS = ('as_generator', 'unit')


@MODELS.register_module()
class CoordGAN(RandomStreamMixin, BaseModel):
    """CoordGAN with its image D, patch co-occurrence D, losses and generator EMA.

    Each iteration (:meth:`train_step`): D step (image + patch D), lazy R1
    for both, G step (GAN + structure swap + texture swap + Chamfer + warp),
    EMA of G. The iteration counter is a buffer, so it is saved and resumed
    with the weights and handed explicitly to every loss weight.

    All sampling (codes, noise, crops) draws from a per-iteration generator
    derived from the model's own random stream (:meth:`step_generator`),
    whose state is saved in the checkpoint: a resumed run continues the
    exact random sequence.

    Args:
        generator, discriminator, patch_discriminator: network configs.
        losses: loss configs keyed by the names in :data:`LOSS_NAMES`;
            ``gan`` is required, a missing or ``None`` entry switches that
            term off (ablations).
        perceptual: LPIPS config shared by texture-swap and warp losses.
        ema_half_life_images: EMA half-life in images seen (global batch per
            step); 5000 gives the reference decay 0.5 ** (32 / 10000) at its
            global batch of 16.
        d_loss_weighting: ``'as_generator'`` (default, the authors' code):
            the D-side logistic losses carry the weight and warm-up of their
            G-side counterparts (``gan`` and ``structure_swap``), and a term
            whose weight is 0 is not computed; ``'unit'`` (the paper): both
            weigh 1 throughout. Lazy R1 is unaffected, so this sets R1's
            strength relative to the main D loss in the shared Adam state.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 patch_discriminator: dict,
                 losses: dict,
                 perceptual: Optional[dict] = None,
                 ema_half_life_images: float = 5000.0,
                 d_loss_weighting: str = 'as_generator',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or
                         IMAGE_PREPROCESSOR,
                         init_cfg=init_cfg)
        self.generator = GENERATORS.build(generator)
        self.discriminator = DISCRIMINATORS.build(discriminator)
        self.patch_discriminator = DISCRIMINATORS.build(patch_discriminator)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.ema_half_life_images = float(ema_half_life_images)
        if d_loss_weighting not in D_LOSS_WEIGHTINGS:
            raise ValueError(f'model.d_loss_weighting must be one of '
                             f'{D_LOSS_WEIGHTINGS}, got {d_loss_weighting!r}')
        self.d_loss_weighting = d_loss_weighting
        self.perceptual = LOSSES.build(perceptual or dict(type='LPIPS'))

        unknown = set(losses) - set(LOSS_NAMES)
        if unknown:
            raise KeyError(f'losses.{sorted(unknown)[0]}: unknown loss; '
                           f'expected names from {LOSS_NAMES}')
        if losses.get('gan') is None:
            raise KeyError('losses.gan is required (the adversarial loss)')
        self.losses = nn.ModuleDict({
            name: LOSSES.build(cfg)
            for name, cfg in losses.items() if cfg is not None
        })
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))

    # ----------------------------------------------------------- generation
    def generate_pairs(self, generator: nn.Module, num: int,
                       device: torch.device, gen: torch.Generator
                       ) -> Tuple[GeneratorOutput, GeneratorOutput]:
        """Fresh codes -> (fake, tex_swap), each with images and C^w; one G call.

        fake = [G(s0, t0), G(s1, t1), ...], tex_swap = [G(s0, t1), G(s1, t0),
        ...]; the structure swap is ``pair_swap(tex_swap)``.
        """
        net = unwrap(generator)
        z_s, z_t = net.sample_codes(num, device, gen)
        noise = net.make_noise(2 * num, device, gen)
        out = generator(torch.cat([z_s, z_s]),
                        torch.cat([z_t, pair_swap(z_t)]), noise)
        fake = GeneratorOutput(*(t[:num] for t in out))
        tex_swap = GeneratorOutput(*(t[num:] for t in out))
        return fake, tex_swap

    def _patch_logits(self, patch_d: nn.Module, targets: torch.Tensor,
                      references: torch.Tensor,
                      gen: torch.Generator) -> torch.Tensor:
        net = unwrap(patch_d)
        return patch_d(net.sample_crops(targets, net.num_target_crops, gen),
                       net.sample_crops(references, net.num_ref_crops, gen))

    # ------------------------------------------------------------- training
    def train_step(self, data, optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        it = int(self.iteration)
        real = self.data_preprocessor(data, True)['inputs']
        num = real.shape[0]
        if num % 2:
            raise ValueError(f'CoordGAN pairs images: the per-GPU batch size '
                             f'must be even, got {num}')
        gen = self.step_generator(real.device)
        log = {}
        log.update(self.discriminator_step(real, it,
                                           optim_wrapper['discriminator'],
                                           gen))
        log.update(self.generator_step(num, real.device, it,
                                       optim_wrapper['generator'], gen))
        self.update_ema(num * get_world_size())
        self.iteration += 1
        return log

    def discriminator_loss_weight(self, name: str, it: int) -> float:
        """Weight of the D-side term of loss ``name`` (``gan`` or ``structure_swap``) at ``it``."""
        if self.d_loss_weighting == 'unit':
            return 1.0
        return self.losses[name].weight_at(it)

    def discriminator_step(self, real: torch.Tensor, it: int, optim_wrapper,
                           gen: torch.Generator) -> Dict[str, torch.Tensor]:
        """Logistic losses of D (real vs fake) and patch D (crops of fake vs structure-swapped)."""
        d, patch_d = self.discriminator, self.patch_discriminator
        losses = self.losses
        with optim_wrapper.optim_context(d):
            with torch.no_grad():
                fake, tex_swap = self.generate_pairs(
                    unwrap(self.generator), real.shape[0], real.device, gen)
            struc_swap = pair_swap(tex_swap.image)
            d_losses = dict(loss_d=self.discriminator_loss_weight('gan', it) *
                            losses['gan'].discriminator_loss(
                                d(real), d(fake.image)))
            patch_weight = (self.discriminator_loss_weight('structure_swap', it)
                            if 'structure_swap' in losses else 0.0)
            if patch_weight:
                # "real" crops come from the same image as the references.
                targets = torch.cat([fake.image, struc_swap])
                logits = self._patch_logits(patch_d, targets,
                                            torch.cat([fake.image] * 2), gen)
                n = real.shape[0]
                d_losses['loss_patch_d'] = patch_weight * losses[
                    'structure_swap'].discriminator_loss(logits[:n],
                                                         logits[n:])
        loss, log = self.parse_losses(d_losses)
        optim_wrapper.update_params(loss)

        reg = {}
        if 'r1' in losses and losses['r1'].active(it):
            real_in = real.detach().requires_grad_(True)
            with optim_wrapper.optim_context(d), fp32(real.device):
                logits = d(real_in)
                penalty = losses['r1'](logits, [real_in])
                # 0 * logits keeps every D parameter in the graph (DDP).
                reg['loss_r1'] = (penalty * losses['r1'].weight_at(it) +
                                  0 * logits.mean())
        if 'patch_r1' in losses and losses['patch_r1'].active(it):
            # Crops of the D step's fake images, the patch D's "real" data.
            net = unwrap(patch_d)
            targets = net.sample_crops(fake.image, net.num_target_crops,
                                       gen).requires_grad_(True)
            refs = net.sample_crops(fake.image, net.num_ref_crops,
                                    gen).requires_grad_(True)
            with optim_wrapper.optim_context(patch_d), fp32(real.device):
                logits = patch_d(targets, refs)
                penalty = losses['patch_r1'](logits, [targets, refs])
                reg['loss_patch_r1'] = (
                    penalty * losses['patch_r1'].weight_at(it) +
                    0 * logits.mean())
        if reg:
            reg_loss, reg_log = self.parse_losses(reg)
            optim_wrapper.update_params(reg_loss)
            log.update({k: v for k, v in reg_log.items() if k != 'loss'})
        return {f'd_{k}' if k == 'loss' else k: v for k, v in log.items()}

    def generator_step(self, num: int, device: torch.device, it: int,
                       optim_wrapper,
                       gen: torch.Generator) -> Dict[str, torch.Tensor]:
        """GAN, structure-swap, texture-swap, Chamfer and warp losses, weighted at ``it``."""
        losses = self.losses
        # The discriminators are only read here: their raw modules (no DDP
        # reducer) with gradients off, so nothing accumulates in them.
        d = unwrap(self.discriminator).requires_grad_(False)
        patch_d = unwrap(self.patch_discriminator).requires_grad_(False)
        try:
            with optim_wrapper.optim_context(self.generator):
                fake, tex_swap = self.generate_pairs(self.generator, num,
                                                     device, gen)
                g_losses = dict(loss_gan=losses['gan'].weight_at(it) *
                                losses['gan'].generator_loss(d(fake.image)))
                if 'structure_swap' in losses:
                    logits = self._patch_logits(
                        patch_d, pair_swap(tex_swap.image),
                        fake.image.detach(), gen)
                    g_losses['loss_structure_swap'] = losses[
                        'structure_swap'].weight_at(it) * losses[
                            'structure_swap'].generator_loss(logits)
                if 'texture_swap' in losses:
                    g_losses['loss_texture_swap'] = losses[
                        'texture_swap'].weight_at(it) * losses['texture_swap'](
                            fake.image, tex_swap.image, self.perceptual)
                if 'chamfer' in losses:
                    g_losses['loss_chamfer'] = losses['chamfer'].weight_at(
                        it) * losses['chamfer'](fake.corr_map,
                                                unwrap(self.generator).grid)
                if 'warp' in losses:
                    g_losses['loss_warp'] = losses['warp'].weight_at(
                        it) * losses['warp'](fake.image, fake.corr_map,
                                             self.perceptual)
        finally:
            d.requires_grad_(True)
            patch_d.requires_grad_(True)
        loss, log = self.parse_losses(g_losses)
        optim_wrapper.update_params(loss)
        log['g_loss'] = log.pop('loss')
        # The structure branch's health: how far the batch's correspondence
        # maps differ, in pixels of the C^w grid (0 = collapsed).
        corr = fake.corr_map.detach()
        log['structure_spread_px'] = coordinate_spread(corr) * (
            corr.shape[-1] - 1) / 2
        return log

    @torch.no_grad()
    def update_ema(self, images_per_step: int) -> None:
        """G_ema <- lerp(G, G_ema, 0.5 ** (images_per_step / half_life)); buffers copied."""
        beta = 0.5**(images_per_step / self.ema_half_life_images)
        source = unwrap(self.generator)
        for p_ema, p in zip(self.generator_ema.parameters(),
                            source.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - beta)
        for b_ema, b in zip(self.generator_ema.buffers(), source.buffers()):
            b_ema.copy_(b)

    # ------------------------------------------------------------ inference
    def forward(self, inputs=None, data_samples=None, mode: str = 'tensor'):
        """Sample images from G_ema: ``inputs`` is the number of samples (or (z_s, z_t))."""
        if mode == 'loss':
            raise NotImplementedError(
                'CoordGAN trains through train_step (alternating D and G '
                'updates); forward(mode="loss") has no single loss')
        if isinstance(inputs, int):
            inputs = self.generator_ema.sample_codes(inputs)
        return self.generator_ema(*inputs)
