"""Structure-branch diagnostics: C^w spread against the data's, swap distances, frame following, warp consistency."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from coordgan.models.losses import EdgeDistance
from coordgan.ops import (coordinate_spread, resize_to,
                          warp_by_correspondence)


@torch.no_grad()
def generator_spread(generator, num: int = 256, batch_size: int = 32,
                     seed: int = 0) -> float:
    """Spread (canonical units) of C^w over ``num`` random structure codes of ``generator``."""
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    maps = []
    for start in range(0, num, batch_size):
        n = min(batch_size, num - start)
        z_s, _ = generator.sample_codes(n, torch.device('cpu'), rng)
        w_s = generator.map_structure(z_s.to(device))
        maps.append(generator.warp(w_s).cpu())
    return float(coordinate_spread(torch.cat(maps)))


def dataset_true_maps(dataset, num: int, size: Optional[int] = None,
                      foreground: bool = False):
    """The first ``num`` dataset items' true canonical maps (N, 2, S, S) (``gt_coords``), resized to ``size``.

    With ``foreground=True`` also their objects' pixels (N, S, S) bool
    (``gt_seg_map`` != 0, nearest-resized), as a pair.
    """
    needed = dict(gt_coords='ground-truth canonical coordinates')
    if foreground:
        needed['gt_seg_map'] = 'part labels (the object is label != 0)'
    maps, masks = [], []
    for i in range(min(num, len(dataset))):
        info = dataset.get_data_info(i)
        for key, what in needed.items():
            if key not in info:
                raise KeyError(f'{type(dataset).__name__} item {i} has no '
                               f'{key}; the true maps need {what}')
        coords = torch.as_tensor(info['gt_coords']).float().permute(2, 0, 1)
        resize = size is not None and coords.shape[-1] != size
        if resize:
            coords = F.interpolate(coords[None], size=(size, size),
                                   mode='bilinear', align_corners=False)[0]
        maps.append(coords)
        if foreground:
            mask = torch.as_tensor(info['gt_seg_map'] != 0).float()
            if resize:
                mask = F.interpolate(mask[None, None], size=(size, size),
                                     mode='nearest')[0, 0]
            masks.append(mask > 0)
    maps = torch.stack(maps)
    return (maps, torch.stack(masks)) if foreground else maps


def dataset_spread(dataset, num: int = 256, size: Optional[int] = None
                   ) -> float:
    """Spread (canonical units) of the ground-truth canonical maps (``gt_coords``) of ``num`` dataset items."""
    return float(coordinate_spread(dataset_true_maps(dataset, num, size)))


def _codes(generator, num: int, seed: int):
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    z = [generator.sample_codes(num, torch.device('cpu'), rng)
         for _ in range(2)]
    noise = generator.make_noise(num, torch.device('cpu'), rng)
    return ([c.to(device) for pair in z for c in pair],
            [n.to(device) for n in noise])


@torch.no_grad()
def swap_edge_distances(generator, num: int = 64, seed: int = 0,
                        distance=None) -> Dict[str, float]:
    """How much a texture swap and a structure swap change the picture.

    Mean ``distance`` (default :class:`EdgeDistance`, blind to colour)
    between G(s, t) and G(s, t') (``'texture'``) and between G(s, t) and
    G(s', t) (``'structure'``), with the noise fixed. Pose carried by the
    structure codes makes ``'structure'`` the larger; on the synthetic data
    the real pairs give 0.40 (texture) and 0.53 (structure).
    """
    distance = EdgeDistance() if distance is None else distance
    (z_s, z_t, z_s2, z_t2), noise = _codes(generator, num, seed)
    w_s, w_s2 = generator.map_structure(z_s), generator.map_structure(z_s2)
    w_t, w_t2 = generator.map_texture(z_t), generator.map_texture(z_t2)
    image = generator.synthesize(w_s, w_t, noise).image
    other_t = generator.synthesize(w_s, w_t2, noise).image
    other_s = generator.synthesize(w_s2, w_t, noise).image
    return dict(texture=float(distance(image, other_t).mean()),
                structure=float(distance(image, other_s).mean()))


@torch.no_grad()
def frame_following(generator, shift_px: int = 4, num: int = 64,
                    seed: int = 0, distance=None) -> Dict[str, float]:
    """Does the synthesis net draw in its coordinate frame?

    Renders codes with C^w and with C^w + (shift, 0) (``shift_px`` pixels of
    the grid), fixed noise. A generator that paints each canonical point
    where C^w puts it gives the first picture moved left by ``shift_px``.
    Returns the mean ``distance`` (default :class:`EdgeDistance`) of the
    shifted rendering to that moved picture (``'to_moved'``: small when the
    frame is followed) and to the unmoved one (``'to_unmoved'``: small when
    C^w is ignored), both on the columns ``shift_px`` away from the borders.
    """
    distance = EdgeDistance() if distance is None else distance
    if not 0 < shift_px < generator.grid_size // 2:
        raise ValueError(f'frame_following: shift_px must be in (0, '
                         f'{generator.grid_size // 2}), got {shift_px}')
    if generator.out_size != generator.grid_size:
        raise ValueError('frame_following needs out_size == grid_size, got '
                         f'{generator.out_size} and {generator.grid_size}')
    (z_s, z_t, _, _), noise = _codes(generator, num, seed)
    corr = generator.warp(generator.map_structure(z_s))
    w_t = generator.map_texture(z_t)[:, None].expand(
        -1, generator.num_latents, -1)
    image = generator.synthesis(corr, w_t, noise)
    moved_map = corr.clone()
    moved_map[:, 0] += 2 * shift_px / (generator.grid_size - 1)
    shifted = generator.synthesis(moved_map, w_t, noise)
    inner = (Ellipsis, slice(shift_px, -shift_px))
    follows = torch.roll(image, -shift_px, dims=-1)
    return dict(
        to_moved=float(distance(shifted[inner], follows[inner]).mean()),
        to_unmoved=float(distance(shifted[inner], image[inner]).mean()))


@torch.no_grad()
def warp_consistency(generator, num: int = 64, seed: int = 0,
                     tau: float = 0.01, tau_grid: Optional[int] = 128
                     ) -> Dict[str, float]:
    """Do the generator's maps explain how its pictures differ? (no encoder, no distance stand-in)

    Pairs G(s, t) and G(s', t) share the texture and the noise, so they
    differ only in structure. The second is carried into the first's frame
    through the maps (soft correspondence, the warp loss's ``tau`` scaled to
    the grid as in :class:`WarpLoss`) and compared with the first by mean
    absolute difference (``'warped'``). ``'unwarped'``: the second carried
    through its own map instead (the same blur, no move). A generator whose
    correspondence is right gives ``'warped'`` well below ``'unwarped'``;
    maps that do not follow the pictures give it at or above.
    """
    (z_s, z_t, z_s2, _), noise = _codes(generator, num, seed)
    w_t = generator.map_texture(z_t)
    first = generator.synthesize(generator.map_structure(z_s), w_t, noise)
    second = generator.synthesize(generator.map_structure(z_s2), w_t, noise)
    size = first.corr_map.shape[-1]
    if tau_grid is not None:
        tau = tau * (tau_grid - 1) / (size - 1)
    image1 = resize_to(first.image, size)
    image2 = resize_to(second.image, size)
    warped = warp_by_correspondence(first.corr_map, second.corr_map, image2,
                                    tau)
    unwarped = warp_by_correspondence(second.corr_map, second.corr_map,
                                      image2, tau)
    return dict(warped=float((warped - image1).abs().mean()),
                unwarped=float((unwarped - image1).abs().mean()))


def match_displacements(pred_maps: torch.Tensor, true_maps: torch.Tensor,
                        foreground: torch.Tensor) -> Dict[str, float]:
    """Images 2k and 2k+1 matched by nearest C^w: how far the matches move against the truth.

    Args:
        pred_maps: (N, 2, G, G) maps to match with (nearest neighbour over
            all pixels of the reference), N even.
        true_maps: (N, 2, G, G) true canonical maps; a query pixel's true
            match is the reference foreground pixel of nearest true
            coordinate.
        foreground: (N, G, G) bool, the object's pixels (the queries).

    Returns ``slope`` (least-squares slope of predicted on true
    displacement: 1 when matches move as far as the points, 0 for the
    identity match), ``error_px`` (mean distance of the predicted from the
    true match) and ``identity_px`` (the same for the identity match), in
    pixels of the G grid.
    """
    num, _, size, _ = true_maps.shape
    if num < 2 or num % 2:
        raise ValueError(f'need an even number of maps >= 2, got {num}')
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size),
                            indexing='ij')
    pix = torch.stack([xs, ys], -1).reshape(-1, 2).double()
    true_d, pred_d = [], []
    for q in range(0, num, 2):
        r = q + 1
        fq = foreground[q].reshape(-1)
        fr = torch.nonzero(foreground[r].reshape(-1)).squeeze(1)
        tq = true_maps[q].reshape(2, -1).T[fq].double()
        tr = true_maps[r].reshape(2, -1).T[fr].double()
        truth = pix[fr[torch.cdist(tq, tr).argmin(1)]]
        pq = pred_maps[q].reshape(2, -1).T[fq].double()
        pr = pred_maps[r].reshape(2, -1).T.double()
        pred = pix[torch.cdist(pq, pr).argmin(1)]
        true_d.append(truth - pix[fq])
        pred_d.append(pred - pix[fq])
    true_d, pred_d = torch.cat(true_d), torch.cat(pred_d)
    return dict(slope=float((true_d * pred_d).sum() / true_d.square().sum()),
                error_px=float((pred_d - true_d).norm(dim=1).mean()),
                identity_px=float(true_d.norm(dim=1).mean()))


def warper_reach(generator, true_maps: torch.Tensor,
                 foreground: torch.Tensor, space: str = 'z',
                 steps: int = 500, lr: Optional[float] = None,
                 prior_weight: float = 1e-4, seed: int = 0
                 ) -> Dict[str, float]:
    """How well the generator's own structure codes can draw the data's true maps, and the matches they give.

    The best an encoder could do through this warper: one code per image
    fitted (Adam, ``steps``) so that C^w matches the image's true canonical
    map on its foreground, after one affine change of frame shared by all
    images (least squares between the mean true map and the map of the
    mean structure code; the generator's frame is its own). ``space='z'``
    fits z_s through the mapping net (codes the generator draws, with a
    ``prior_weight`` * |z|^2 pull to the prior), ``'w'`` fits w_s freely
    (maps the warper can draw at all). Returns ``fit`` (mean squared
    distance on the foreground, canonical units) and
    :func:`match_displacements` of the fitted maps.
    """
    if space not in ('z', 'w'):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    trainable = [p for p in generator.parameters() if p.requires_grad]
    generator.requires_grad_(False)
    try:
        return _fit_codes(generator, true_maps, foreground, space, steps,
                          lr, prior_weight, seed)
    finally:
        for p in trainable:
            p.requires_grad_(True)


def _fit_codes(generator, true_maps, foreground, space, steps, lr,
               prior_weight, seed):
    device = next(generator.parameters()).device
    true_maps = true_maps.to(device).float()
    weight = foreground.to(device).float()[:, None]
    num = true_maps.shape[0]
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z_s, _ = generator.sample_codes(4096, torch.device('cpu'), rng)
        w_mean = generator.map_structure(z_s.to(device)).mean(0, True)
        mean_map = generator.warp(w_mean)[0].reshape(2, -1).T.double()
        design = true_maps.mean(0).reshape(2, -1).T.double()
        design = torch.cat([design, torch.ones_like(design[:, :1])], 1)
        frame = torch.linalg.lstsq(design, mean_map).solution.float()
        target = (torch.einsum('ij,bjhw->bihw', frame[:2].T, true_maps) +
                  frame[2].view(1, 2, 1, 1))
    if space == 'z':
        code = torch.zeros(num, z_s.shape[1], device=device,
                           requires_grad=True)

        def draw(c):
            return generator.warp(generator.map_structure(c))
    else:
        code = w_mean.repeat(num, 1).requires_grad_(True)
        draw = generator.warp
    if lr is None:
        lr = 0.02 if space == 'z' else 0.01
    optimizer = torch.optim.Adam([code], lr=lr)

    def misfit(maps):
        return ((maps - target).square().sum(1, keepdim=True) *
                weight).sum() / weight.sum()

    for _ in range(steps):
        loss = misfit(draw(code))
        if space == 'z':
            loss = loss + prior_weight * code.square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        fitted = draw(code)
        result = dict(fit=float(misfit(fitted)))
    result.update(match_displacements(fitted.cpu(), true_maps.cpu(),
                                      foreground.cpu()))
    return result
