"""CoordGAN training (stage 1): one iteration as in REFERENCE.md section 5."""
import copy
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.profiler import record_function
from mmengine.dist import get_world_size
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict

from coordgan.ops import coordinate_spread, pair_swap
from coordgan.registry import (DISCRIMINATORS, GENERATORS, LOSSES, MODELS)
from ..generators import GeneratorOutput
from ..losses import BaseLoss, StepOutputs
from .common import (IMAGE_PREPROCESSOR, fp32, keep_out_of_checkpoints,
                     unwrap)
from .ema import HalfLifeEMA
from .fine_tuning import freeze_parameters
from .nonfinite import SkipNonFiniteMixin
from .random_stream import RandomStreamMixin

# The steps of one iteration (REFERENCE.md section 5), in order. Every
# configured loss declares the steps it takes part in (``BaseLoss.phases``);
# each step computes its images once and adds up its losses' weighted values.
STEPS = ('discriminator', 'regularizer', 'generator')
# How the D step weights its logistic losses (REFERENCE.md section 5):
# 'as_generator' (the authors' code) gives the image-D loss the weight and
# warm-up of the G-side GAN loss and the patch-D loss those of the structure
# swap (so it is off while that weight is 0); 'unit' (the paper) weights both
# 1 from the first iteration.
D_LOSS_WEIGHTINGS = ('as_generator', 'unit')


def profiled(name: str) -> record_function:
    """A profiler range ``coordgan/<name>`` (benchmarks/train_step.py's breakdown; ~free unprofiled)."""
    return record_function(f'coordgan/{name}')


@MODELS.register_module()
class CoordGAN(SkipNonFiniteMixin, RandomStreamMixin, BaseModel):
    """CoordGAN with its image D, patch co-occurrence D, losses and generator EMA.

    Each iteration (:meth:`train_step`): D step (image + patch D), lazy R1
    for both, G step (GAN + structure swap + texture swap + Chamfer + warp),
    EMA of G. The losses are plug-ins: each step builds its images once into
    a :class:`StepOutputs` and adds up the weighted values of the configured
    losses that take part in it (``BaseLoss.phases``), logged as
    ``loss_<name>`` (``loss_<name>_d`` in the D step). The iteration counter
    is a buffer, so it is saved and resumed with the weights and handed
    explicitly to every loss weight.

    An update whose loss terms or gradients hold a NaN or an infinity is
    skipped (:class:`SkipNonFiniteMixin`: no optimizer step, gradients
    zeroed, and no EMA update after a skipped G step), warned about and
    counted as ``skipped_nonfinite``.

    All sampling (codes, noise, crops) draws from a per-iteration generator
    derived from the model's own random stream (:meth:`step_generator`),
    whose state is saved in the checkpoint: a resumed run continues the
    exact random sequence.

    Args:
        generator, discriminator, patch_discriminator: network configs.
        losses: loss configs keyed by name (the reference's: ``gan``,
            ``r1``, ``structure_swap``, ``patch_r1``, ``texture_swap``,
            ``warp``, ``chamfer``; CoordGAN-B adds ``cycle``). Any
            registered :class:`BaseLoss` can be added; a ``None`` entry
            switches a term off (ablations). At least one loss must train
            the discriminator.
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
        frozen: fnmatch patterns over ``named_parameters()`` names (e.g.
            ``'generator.warper.*'``): ``requires_grad=False`` and in no
            optimizer (:func:`freeze_parameters`, REFERENCE.md section 8).
        init_cfg: ``dict(type='PartialPretrained', ...)`` starts from a
            checkpoint of another size (:class:`PartialPretrained`).
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 patch_discriminator: dict,
                 losses: dict,
                 perceptual: Optional[dict] = None,
                 ema_half_life_images: float = 5000.0,
                 d_loss_weighting: str = 'as_generator',
                 frozen: Sequence[str] = (),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or
                         IMAGE_PREPROCESSOR,
                         init_cfg=init_cfg)
        self.generator = GENERATORS.build(generator)
        self.discriminator = DISCRIMINATORS.build(discriminator)
        self.patch_discriminator = DISCRIMINATORS.build(patch_discriminator)
        self.generator_ema = HalfLifeEMA(self.generator, ema_half_life_images)
        if d_loss_weighting not in D_LOSS_WEIGHTINGS:
            raise ValueError(f'model.d_loss_weighting must be one of '
                             f'{D_LOSS_WEIGHTINGS}, got {d_loss_weighting!r}')
        self.d_loss_weighting = d_loss_weighting
        self.perceptual = LOSSES.build(perceptual or dict(type='LPIPS'))
        keep_out_of_checkpoints(self, 'perceptual')

        self.losses = nn.ModuleDict()
        for name, cfg in losses.items():
            if cfg is None:
                continue
            loss = LOSSES.build(cfg)
            if not isinstance(loss, BaseLoss) or not set(loss.phases) & set(
                    STEPS):
                raise TypeError(
                    f'losses.{name}: {type(loss).__name__} takes part in none '
                    f'of the steps {STEPS} (a training loss is a BaseLoss '
                    f'whose phases name them; got '
                    f'{getattr(loss, "phases", None)})')
            loss.check_model(self)
            self.losses[name] = loss
        if not any('discriminator' in loss.phases
                   for loss in self.losses.values()):
            raise KeyError('losses: none trains the discriminator; the '
                           'reference has losses.gan=dict(type="GANLoss")')
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))
        freeze_parameters(self, frozen)

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
        return out.select(slice(None, num)), out.select(slice(num, None))

    def step_outputs(self, it: int, gen: torch.Generator,
                     fake: GeneratorOutput, tex_swap: GeneratorOutput,
                     **extra) -> StepOutputs:
        """What the losses of a step read: the image sets of REFERENCE.md section 5 and more."""
        return StepOutputs(
            iteration=it, rng=gen, fake=fake, tex_swap=tex_swap,
            struc_swap=pair_swap(tex_swap.image),
            grid=unwrap(self.generator).grid, perceptual=self.perceptual,
            d_loss_weighting=self.d_loss_weighting, **extra)

    def step_losses(self, phase: str,
                    step: StepOutputs) -> Dict[str, torch.Tensor]:
        """Weighted values of the configured losses of ``phase`` that are active in ``step``."""
        suffix = '_d' if phase == 'discriminator' else ''
        values = {}
        for name, loss in self.losses.items():
            if phase in loss.phases and loss.active(phase, step):
                with profiled(f'loss_{name}{suffix}'):
                    values[f'loss_{name}{suffix}'] = loss.weighted(phase,
                                                                   step)
        return values

    def regularization_interval(self,
                                modules: Sequence[str]) -> Optional[int]:
        """Every how many iterations the regularizers of ``modules`` run (None: none does).

        The one place the lazy-regularisation interval is defined: the
        optimizer constructor reads it from here for the optimizer that owns
        ``modules``, so the correction cannot drift from the penalty.
        """
        intervals = {
            name: loss.interval
            for name, loss in self.losses.items()
            if 'regularizer' in loss.phases
            and getattr(loss, 'regularizes', None) in modules
        }
        if len(set(intervals.values())) > 1:
            raise ValueError(
                f'regularizers of {list(modules)} run at different intervals '
                f'{intervals}; one optimizer owns them, and its '
                f'lazy-regularisation correction needs one interval')
        return next(iter(intervals.values()), None)

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
        self.start_iteration()
        log = {}
        with profiled('discriminator_step'):
            log.update(self.discriminator_step(
                real, it, optim_wrapper['discriminator'], gen))
        with profiled('generator_step'):
            log.update(self.generator_step(num, real.device, it,
                                           optim_wrapper['generator'], gen))
        if not self.skipped('generator'):
            with profiled('ema'):
                self.update_ema(num * get_world_size())
        self.iteration += 1
        log.update(self.skip_log(real.device))
        return log

    def discriminator_step(self, real: torch.Tensor, it: int, optim_wrapper,
                           gen: torch.Generator) -> Dict[str, torch.Tensor]:
        """D step: the D-side losses (one update), then the due lazy regularizers (another)."""
        d, patch_d = self.discriminator, self.patch_discriminator
        with optim_wrapper.optim_context(d):
            with torch.no_grad(), profiled('d_generator_forward'):
                fake, tex_swap = self.generate_pairs(
                    unwrap(self.generator), real.shape[0], real.device, gen)
            step = self.step_outputs(it, gen, fake, tex_swap, real=real,
                                     discriminator=d,
                                     patch_discriminator=patch_d)
            d_losses = self.step_losses('discriminator', step)
        log = {}
        if d_losses:
            with profiled('d_update'):
                log = self.update_or_skip('discriminator', it, optim_wrapper,
                                          d_losses)

        with optim_wrapper.optim_context(d), fp32(real.device), profiled(
                'regularizer'):
            reg = self.step_losses('regularizer', step)
        if reg:
            with profiled('regularizer_update'):
                reg_log = self.update_or_skip('regularizer', it,
                                              optim_wrapper, reg)
            log.update({k: v for k, v in reg_log.items() if k != 'loss'})
        return {f'd_{k}' if k == 'loss' else k: v for k, v in log.items()}

    def generator_step(self, num: int, device: torch.device, it: int,
                       optim_wrapper,
                       gen: torch.Generator) -> Dict[str, torch.Tensor]:
        """G step: fresh codes, the G-side losses, one update."""
        # The discriminators are only read here: their raw modules (no DDP
        # reducer) with gradients off, so nothing accumulates in them; each
        # parameter gets its own flag back (frozen layers stay frozen).
        nets = (unwrap(self.discriminator), unwrap(self.patch_discriminator))
        flags = [[p.requires_grad for p in net.parameters()] for net in nets]
        for net in nets:
            net.requires_grad_(False)
        try:
            with optim_wrapper.optim_context(self.generator):
                with profiled('generator_forward'):
                    fake, tex_swap = self.generate_pairs(self.generator, num,
                                                         device, gen)
                step = self.step_outputs(it, gen, fake, tex_swap,
                                         discriminator=nets[0],
                                         patch_discriminator=nets[1])
                g_losses = self.step_losses('generator', step)
        finally:
            for net, net_flags in zip(nets, flags):
                for p, flag in zip(net.parameters(), net_flags):
                    p.requires_grad_(flag)
        with profiled('g_update'):
            log = self.update_or_skip('generator', it, optim_wrapper,
                                      g_losses)
        if 'loss' in log:  # left out when non-finite
            log['g_loss'] = log.pop('loss')
        # The structure branch's health: how far the batch's correspondence
        # maps differ, in pixels of the C^w grid (0 = collapsed).
        corr = fake.corr_map.detach()
        log['structure_spread_px'] = coordinate_spread(corr) * (
            corr.shape[-1] - 1) / 2
        return log

    @torch.no_grad()
    def update_ema(self, images_per_step: int) -> None:
        """G_ema <- lerp(G_ema, G, 1 - 0.5 ** (images_per_step / half_life)); buffers copied.

        mmengine's EMA (:class:`HalfLifeEMA`): the first update copies G.
        """
        self.generator_ema.update(unwrap(self.generator), images_per_step)

    # ------------------------------------------------------------ inference
    def forward(self, inputs=None, data_samples=None, mode: str = 'tensor'):
        """Sample images from G_ema: ``inputs`` is the number of samples (or (z_s, z_t))."""
        if mode == 'loss':
            raise NotImplementedError(
                'CoordGAN trains through train_step (alternating D and G '
                'updates); forward(mode="loss") has no single loss')
        if isinstance(inputs, int):
            inputs = self.generator_ema.module.sample_codes(inputs)
        return self.generator_ema(*inputs)
