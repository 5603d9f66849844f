"""GAN Factorization (SeFa, Shen & Zhou 2021): closed-form texture directions, the Table 2 baseline.

The style affine of a modulated layer maps a code w to per-channel scales
A_l w + b_l; a unit direction d moves them by A_l d. The directions that
move the selected layers' scales most are the top eigenvectors of A^T A,
A the selected A_l stacked row-wise. In CoordGAN only the texture code w_t
reaches these layers, so w_t + alpha * d leaves C^w (and w_s) untouched.
"""
from typing import List, NamedTuple, Sequence, Tuple, Union

import torch
import torch.nn as nn


class TextureModulation(NamedTuple):
    """A modulated layer that reads w_t: its name, the layer and the W+ slot it reads."""
    name: str
    layer: nn.Module  # a ModulatedConv2d; ``layer.modulation`` is the affine
    slot: int
    is_conv: bool  # a styled conv (else a ToRGB)


class SeFaDirections(NamedTuple):
    """``directions`` (num, style_dim), orthonormal rows, by decreasing ``eigenvalues`` (num,).

    ``slots``: the W+ slots the factorised layers read, the ones a
    perturbation moves (sorted).
    """
    directions: torch.Tensor
    eigenvalues: torch.Tensor
    slots: Tuple[int, ...]


def texture_modulations(generator: nn.Module) -> List[TextureModulation]:
    """The layers of a CoordGAN synthesis net that read w_t, in forward order.

    conv1 (slot 0), to_rgb1 (slot 1), then per block the two convs (slots
    i, i + 1) and its ToRGB (slot i + 2, shared with the next block's first
    conv): the StyleGAN2 indexing of ``CoordSynthesisNetwork.forward``.
    """
    synthesis = getattr(generator, 'synthesis', None)
    needed = ('conv1', 'to_rgb1', 'convs', 'to_rgbs')
    if synthesis is None or not all(hasattr(synthesis, n) for n in needed):
        raise TypeError(f'GAN Factorization needs a CoordGAN generator (a '
                        f'synthesis net with {", ".join(needed)}); got '
                        f'{type(generator).__name__}')
    mods = [TextureModulation('synthesis.conv1', synthesis.conv1.conv, 0,
                              True),
            TextureModulation('synthesis.to_rgb1', synthesis.to_rgb1.conv, 1,
                              False)]
    for block, to_rgb in enumerate(synthesis.to_rgbs):
        for k in (2 * block, 2 * block + 1):
            mods.append(TextureModulation(f'synthesis.convs.{k}',
                                          synthesis.convs[k].conv, k + 1,
                                          True))
        mods.append(TextureModulation(f'synthesis.to_rgbs.{block}',
                                      to_rgb.conv, 2 * block + 3, False))
    return mods


def select_modulations(generator: nn.Module,
                       layers: Union[str, Sequence[int]] = 'all'
                       ) -> List[TextureModulation]:
    """``'all'``: every layer that reads w_t; a list of ints: those styled convs (conv1 = 0, negatives count from the last)."""
    mods = texture_modulations(generator)
    if isinstance(layers, str):
        if layers != 'all':
            raise ValueError(f"GAN Factorization layers must be 'all' or "
                             f'styled-conv indices, got {layers!r}')
        return mods
    convs = [m for m in mods if m.is_conv]
    picked = []
    for index in layers:
        if not -len(convs) <= int(index) < len(convs):
            raise ValueError(f'GAN Factorization layer {index} out of range:'
                             f' the generator has {len(convs)} styled convs '
                             f'({convs[0].name} ... {convs[-1].name})')
        mod = convs[int(index)]
        if mod not in picked:
            picked.append(mod)
    if not picked:
        raise ValueError('GAN Factorization needs at least one layer')
    return picked


def modulation_matrix(mods: Sequence[TextureModulation],
                      normalize: bool = True) -> torch.Tensor:
    """The effective affine weights of ``mods`` stacked: A (sum of channels, style_dim), float64.

    ``normalize``: each row scaled to unit length, as SeFa's release does
    (every channel counts once, whatever its weight's scale).
    """
    rows = []
    for mod in mods:
        affine = mod.layer.modulation
        rows.append(affine.weight.detach().double() * affine.scale)
    a = torch.cat(rows)
    if normalize:
        a = a / a.norm(dim=1, keepdim=True)
    return a


def sefa_directions(generator: nn.Module,
                    num: int = 5,
                    layers: Union[str, Sequence[int]] = 'all',
                    normalize: bool = True) -> SeFaDirections:
    """Top ``num`` eigenvectors of A^T A over the selected texture layers, (num, style_dim).

    Each direction's sign is fixed so that its largest-magnitude entry is
    positive (eigenvectors have none of their own), so runs agree.
    """
    mods = select_modulations(generator, layers)
    a = modulation_matrix(mods, normalize)
    if not 1 <= num <= a.shape[1]:
        raise ValueError(f'GAN Factorization num must be in [1, '
                         f'{a.shape[1]}] (the code size), got {num}')
    values, vectors = torch.linalg.eigh(a.T @ a)  # ascending
    values = values.flip(0)[:num]
    vectors = vectors.flip(1)[:, :num].T
    peak = vectors.abs().argmax(dim=1, keepdim=True)
    vectors = vectors * vectors.gather(1, peak).sign()
    param = mods[0].layer.modulation.weight
    return SeFaDirections(vectors.to(param), values.to(param),
                          tuple(sorted({m.slot for m in mods})))


def sefa_plan(indices: Sequence[int], num: int) -> Tuple[List[int], List[int]]:
    """Direction and sign of each sample index: direction i mod num, sign + then - on alternate passes."""
    directions = [int(i) % num for i in indices]
    signs = [1 if (int(i) // num) % 2 == 0 else -1 for i in indices]
    return directions, signs


def perturb_w_plus(w_plus: torch.Tensor, offsets: torch.Tensor,
                   slots: Sequence[int]) -> torch.Tensor:
    """W+ (B, L, D) with per-sample ``offsets`` (B, D) added to the ``slots``; a new tensor."""
    out = w_plus.clone()
    out[:, list(slots)] += offsets[:, None]
    return out
