"""The test loop of generation metrics: swap LPIPS, ArcFace and FID on images a CoordGAN samples, or on GAN Factorization pairs."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner import TestLoop

from coordgan.evaluation.sefa import (perturb_w_plus, sefa_directions,
                                     sefa_plan)
from coordgan.models.algorithms.common import unwrap
from coordgan.models.generators.base import GeneratorOutput
from coordgan.registry import LOOPS

SAMPLE_MODELS = ('ema', 'orig')
# GenerationTestLoop(sefa=...) keys and their defaults.
SEFA_DEFAULTS = dict(num_directions=5, distance=3.0, layers='all',
                     normalize=True)


def sample_codes(generator: nn.Module, indices: List[int], seed: int
                 ) -> Tuple[torch.Tensor, ...]:
    """Per-index codes z_s, z_s', z_t, z_t' (B, z_dim) and noise, drawn on the CPU from (seed, index).

    Sample i gets the same codes whatever the batch size, rank count or
    device, so runs can be compared image for image.
    """
    net = unwrap(generator)
    codes, noises = [], []
    for index in indices:
        rng = torch.Generator().manual_seed(seed * 1_000_003 + int(index))
        codes.append(torch.randn(4, net.z_dim, generator=rng))
        noises.append(net.make_noise(1, torch.device('cpu'), rng))
    codes = torch.stack(codes, 1)  # (4, B, z_dim)
    noise = None
    if noises[0] is not None:
        noise = [torch.cat(layer) for layer in zip(*noises)]
    return codes[0], codes[1], codes[2], codes[3], noise


@torch.no_grad()
def swap_triplets(generator: nn.Module, z_s: torch.Tensor, z_s2: torch.Tensor,
                  z_t: torch.Tensor, z_t2: torch.Tensor,
                  noise: Optional[list] = None
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """G(s, t), G(s, t') (texture swap), G(s', t) (structure swap), each (B, 3, H, W) in [-1, 1].

    One generator call; the three images of a pair share the noise maps, so
    identical codes give identical images.
    """
    if noise is not None:
        noise = [None if n is None else torch.cat([n, n, n])
                 for n in noise]
    out = generator(torch.cat([z_s, z_s, z_s2]), torch.cat([z_t, z_t2, z_t]),
                    noise)
    return out.image.chunk(3)


@torch.no_grad()
def sefa_triplets(generator: nn.Module, z_s: torch.Tensor, z_s2: torch.Tensor,
                  z_t: torch.Tensor, offsets: torch.Tensor,
                  slots: Tuple[int, ...], noise: Optional[list] = None
                  ) -> Tuple[GeneratorOutput, GeneratorOutput,
                             GeneratorOutput]:
    """G(s, t), G(s, w_t + offset) (GAN Factorization), G(s', t): outputs (image and C^w) of (B, ...).

    ``offsets`` (B, style_dim) are added to the W+ ``slots`` of w_t; one
    synthesis call, shared noise, as :func:`swap_triplets`.
    """
    if noise is not None:
        noise = [None if n is None else torch.cat([n, n, n])
                 for n in noise]
    w_s, w_s2 = generator.map_structure(z_s), generator.map_structure(z_s2)
    w_plus = generator.map_texture(z_t)[:, None].expand(
        -1, generator.num_latents, -1)
    edited = perturb_w_plus(w_plus, offsets, slots)
    out = generator.synthesize(torch.cat([w_s, w_s, w_s2]),
                               torch.cat([w_plus, edited, w_plus]), noise)
    size = len(z_s)
    return tuple(out.select(slice(k * size, (k + 1) * size))
                 for k in range(3))


@LOOPS.register_module()
class GenerationTestLoop(TestLoop):
    """``TestLoop`` whose items are sample indices: the model generates, the metrics score.

    The test dataset is a :class:`coordgan.datasets.GenerationIndexDataset`
    (N indices, split across ranks by the sampler). For each index i the
    loop draws codes from ``(seed, i)`` (:func:`sample_codes`) and hands
    the metrics data samples ``dict(index, image=G(s, t),
    texture_swap=G(s, t'), structure_swap=G(s', t))`` (``(3, H, W)`` in
    [-1, 1]): a swap metric reads the pair, FID reads ``image``. The model
    is a stage-1 CoordGAN; ``sample_model='ema'`` (default) uses G_ema,
    ``'orig'`` the trained G.

    ``sefa=dict(num_directions=5, distance=3.0, layers='all',
    normalize=True)`` makes the texture pair the GAN Factorization baseline
    of Table 2: ``texture_swap`` becomes G(s, w_t +- distance * d_k), d_k the
    k-th closed-form direction of the ``layers``' texture modulations
    (:func:`coordgan.evaluation.sefa.sefa_directions`), k = i mod
    num_directions, + on even passes over the directions and - on odd ones;
    only the W+ slots of those layers move. The same metrics then score it
    as they score the texture swap. ``structure_swap`` is unchanged.
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 seed: int = 0, sample_model: str = 'ema',
                 sefa: Optional[dict] = None):
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        if sample_model not in SAMPLE_MODELS:
            raise ValueError(f'GenerationTestLoop sample_model must be one '
                             f'of {SAMPLE_MODELS}, got {sample_model!r}')
        self.seed = seed
        self.sample_model = sample_model
        self.sefa = None
        if sefa is not None:
            unknown = sorted(set(sefa) - set(SEFA_DEFAULTS))
            if unknown:
                raise ValueError(f'GenerationTestLoop sefa keys must be among '
                                 f'{sorted(SEFA_DEFAULTS)}, got {unknown}')
            self.sefa = dict(SEFA_DEFAULTS, **sefa)

    def _generator(self) -> nn.Module:
        model = unwrap(self.runner.model)
        if not hasattr(model, 'generator_ema'):
            raise TypeError(f'GenerationTestLoop needs a stage-1 CoordGAN '
                            f'(with generator and generator_ema); got '
                            f'{type(model).__name__}')
        if self.sample_model == 'ema':
            return model.generator_ema.module
        return unwrap(model.generator)

    def run(self) -> Dict[str, float]:
        self.generator = self._generator()
        self.directions = None
        if self.sefa is not None:
            self.directions = sefa_directions(
                self.generator, num=self.sefa['num_directions'],
                layers=self.sefa['layers'], normalize=self.sefa['normalize'])
            values = self.directions.eigenvalues.tolist()
            print_log(f'GAN Factorization: texture pairs along '
                      f'+-{self.sefa["distance"]} x the top {len(values)} '
                      f'directions (eigenvalues '
                      f'{", ".join(f"{v:.3g}" for v in values)}) of W+ '
                      f'slots {list(self.directions.slots)}',
                      logger='current')
        return super().run()

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch) -> None:
        self.runner.call_hook('before_test_iter', batch_idx=idx,
                              data_batch=data_batch)
        indices = [int(i) for i in data_batch['index']]
        device = next(self.generator.parameters()).device
        *codes, noise = sample_codes(self.generator, indices, self.seed)
        z_s, z_s2, z_t, z_t2 = (c.to(device) for c in codes)
        if noise is not None:
            noise = [n.to(device) for n in noise]
        with torch.autocast(device.type, enabled=self.fp16):
            if self.directions is None:
                image, tex, struct = swap_triplets(self.generator, z_s, z_s2,
                                                   z_t, z_t2, noise)
            else:
                image, tex, struct = (out.image for out in sefa_triplets(
                    self.generator, z_s, z_s2, z_t,
                    self._sefa_offsets(indices), self.directions.slots,
                    noise))
        outputs = [dict(index=i, image=image[k], texture_swap=tex[k],
                        structure_swap=struct[k])
                   for k, i in enumerate(indices)]
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx,
                              data_batch=data_batch, outputs=outputs)

    def _sefa_offsets(self, indices: List[int]) -> torch.Tensor:
        """(B, style_dim) offsets +- distance * d_k of the samples ``indices``."""
        which, signs = sefa_plan(indices, len(self.directions.directions))
        directions = self.directions.directions[which]
        signs = directions.new_tensor(signs)[:, None]
        return self.sefa['distance'] * signs * directions
