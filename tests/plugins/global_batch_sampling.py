"""Test-only plug-ins: a run on N ranks x B draws what one process x N*B draws.

Why a plug-in: the library gives every rank its own per-iteration generator
(``RandomStreamMixin.step_generator`` adds the rank to the seed) and every
rank draws its codes, noise and crops for its own B samples, so 2 ranks x B
and 1 process x 2B see different random numbers by design; their gradients
agree only in distribution. These plug-ins change where the numbers come
from, not the training step:

- ``GlobalBatchCoordGAN``: one per-iteration generator for all ranks (a fixed
  stream seed, no rank offset); codes and noise are drawn for the global
  batch and each rank keeps its own rows. The library's ``generate_pairs``
  still builds the image sets.
- ``SameCropsPatchDiscriminator``: every image of a call gets the same crop
  boxes, drawn from that generator, so the crops do not depend on where an
  image sits in the batch (its position differs between the two runs).
- ``StepGradientsHook``: every rank saves each optimizer step's gradients
  (after DDP's all-reduce) and, after training, every network's weights.

Global sample of rank ``r``'s local sample ``j`` (``w`` ranks): pair
``r + w * (j // 2)``, slot ``j % 2``. Pairs interleave over ranks as the
data samplers interleave real images (rank r reads items r, r + w, ...), so
minibatch-stddev groups of size G in the image D hold the same samples in
both runs when G divides B / 2 (its groups take every (B/G)-th sample).
"""
import os.path as osp
from contextlib import contextmanager

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from coordgan.models.algorithms.coordgan import CoordGAN
from coordgan.models.algorithms.common import unwrap
from coordgan.models.discriminators.patch_discriminator import \
    PatchCooccurrenceDiscriminator
from coordgan.ops import random_crops
from coordgan.registry import DISCRIMINATORS, HOOKS, MODELS

NETWORKS = ('generator', 'discriminator', 'patch_discriminator',
            'generator_ema')


def global_rows(num: int, rank: int, world_size: int) -> torch.Tensor:
    """Rows of the global batch (``num * world_size``) held by ``rank``: (num,)."""
    j = torch.arange(num)
    return 2 * (rank + world_size * (j // 2)) + j % 2


@MODELS.register_module()
class GlobalBatchCoordGAN(CoordGAN):
    """CoordGAN whose codes and noise are rows of one draw for the global batch."""

    def __init__(self, stream_seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.stream_seed = stream_seed

    def _shared_rng(self) -> torch.Generator:
        # Fixed, so the 1-process and the N-rank runs start the same stream.
        if self._rng is None:
            self._rng = torch.Generator().manual_seed(self.stream_seed)
        return self._rng

    def step_generator(self, device: torch.device) -> torch.Generator:
        seed = int(torch.randint(2**62, (1, ), generator=self._shared_rng()))
        return torch.Generator(device=device).manual_seed(seed)

    def generate_pairs(self, generator, num, device, gen):
        with global_draws(unwrap(generator), num):
            return super().generate_pairs(generator, num, device, gen)


@contextmanager
def global_draws(net, num: int):
    """Within: ``net.sample_codes`` / ``make_noise`` draw for all ranks, return this rank's rows."""
    world = get_world_size()
    rows = global_rows(num, get_rank(), world)
    total = num * world
    sample_codes, make_noise = net.sample_codes, net.make_noise

    def codes(n, device=None, generator=None):
        assert n == num, (n, num)
        z_s, z_t = sample_codes(total, device, generator)
        return z_s[rows.to(z_s.device)], z_t[rows.to(z_t.device)]

    def noise(n, device=None, generator=None):
        # n = k * num: k blocks of num samples, each its own block globally.
        blocks = n // num
        assert blocks * num == n, (n, num)
        layers = make_noise(blocks * total, device, generator)
        if layers is None:
            return None
        index = torch.cat([b * total + rows for b in range(blocks)])
        return [x[index.to(x.device)] for x in layers]

    net.sample_codes, net.make_noise = codes, noise
    try:
        yield
    finally:
        del net.sample_codes, net.make_noise  # the class methods again


@DISCRIMINATORS.register_module()
class SameCropsPatchDiscriminator(PatchCooccurrenceDiscriminator):
    """Patch D whose crop boxes are the same for every image of a call."""

    def sample_crops(self, img, num_crops, generator=None):
        seed = int(torch.randint(2**62, (1, ), generator=generator))
        return torch.cat([
            random_crops(one, num_crops, self.crop_size, self.side_range,
                         flip=True, sampling=self.sampling,
                         generator=torch.Generator(
                             device=img.device).manual_seed(seed))
            for one in img.split(1)
        ])


@HOOKS.register_module()
class StepGradientsHook(Hook):
    """Saves ``<work_dir>/rank<r>_steps.pth``: each optimizer step's gradients, and the final weights.

    ``{'grads': {optimizer: [{param name: grad}, ...]}, 'weights': {net:
    state dict}}``; names without DDP's ``module.``.
    """

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        names = {p: strip_wrappers(n) for n, p in model.named_parameters()}
        self.grads = {}
        for key, wrapper in runner.optim_wrapper.items():
            steps = self.grads.setdefault(key, [])

            def record(optimizer, args, kwargs, steps=steps):
                steps.append({
                    names[p]: p.grad.detach().clone()
                    for group in optimizer.param_groups
                    for p in group['params'] if p.grad is not None
                })

            wrapper.optimizer.register_step_pre_hook(record)

    def after_train(self, runner) -> None:
        model = unwrap(runner.model)
        weights = {}
        for name in NETWORKS:
            net = getattr(model, name)
            net = net.module if is_model_wrapper(net) else net
            weights[name] = {k: v.detach().cpu()
                             for k, v in net.state_dict().items()}
        torch.save(dict(grads=self.grads, weights=weights),
                   osp.join(runner.work_dir, f'rank{get_rank()}_steps.pth'))


def strip_wrappers(name: str) -> str:
    """'generator.module.x' (a DDP-wrapped sub-network) -> 'generator.x'."""
    parts = name.split('.')
    if len(parts) > 2 and parts[1] == 'module':
        del parts[1]
    return '.'.join(parts)
