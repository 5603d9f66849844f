"""The test loop of generation metrics: swap LPIPS and FID on images a CoordGAN samples."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.runner import TestLoop

from coordgan.models.algorithms.common import unwrap
from coordgan.registry import LOOPS

SAMPLE_MODELS = ('ema', 'orig')


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
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 seed: int = 0, sample_model: str = 'ema'):
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        if sample_model not in SAMPLE_MODELS:
            raise ValueError(f'GenerationTestLoop sample_model must be one '
                             f'of {SAMPLE_MODELS}, got {sample_model!r}')
        self.seed = seed
        self.sample_model = sample_model

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
            image, tex, struct = swap_triplets(self.generator, z_s, z_s2,
                                               z_t, z_t2, noise)
        outputs = [dict(index=i, image=image[k], texture_swap=tex[k],
                        structure_swap=struct[k])
                   for k, i in enumerate(indices)]
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx,
                              data_batch=data_batch, outputs=outputs)
