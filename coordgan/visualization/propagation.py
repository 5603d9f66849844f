"""Pictures of label propagation: references, masks, the propagated mask and colour-coded descriptors.

One figure per query, one row per reference. Every panel is enlarged by
nearest neighbour (never smoothed, so each label cell stays one colour and
the pictures can be compared pixel for pixel with the label maps).
"""
from typing import Optional, Sequence

import numpy as np
import torch

from coordgan.datasets.segmentation import default_palette
from .swap_grid import coords_to_rgb, panel_side, to_unit

#: Column titles of :func:`propagation_figure`, left to right.
MASK_COLUMNS = ('reference image', 'reference mask', 'query image',
                'query ground-truth mask', 'propagated mask')
DESCRIPTOR_COLUMNS = ('reference descriptor', 'query descriptor')
SEPARATOR_VALUE = 255  # white lines between panels


def resolve_palette(palette, num_classes: int) -> np.ndarray:
    """Dataset palette (K, 3) RGB or None -> (max(K, num_classes), 3) uint8.

    Falls back to :func:`default_palette` when the dataset has no palette
    or fewer colours than the labels need: a partial palette would leave
    some parts undrawable.
    """
    if palette is not None and len(palette) >= num_classes:
        colours = np.asarray(palette)
        if colours.ndim != 2 or colours.shape[1] != 3:
            raise ValueError(f'palette: expected (K, 3) RGB colours, got '
                             f'shape {colours.shape}')
        if colours.min() < 0 or colours.max() > 255:
            raise ValueError(f'palette: colours must be in [0, 255], got '
                             f'{colours.min()}..{colours.max()}')
        return colours.astype(np.uint8)
    return np.asarray(default_palette(max(num_classes, 1)), dtype=np.uint8)


def nearest_resize(panel: np.ndarray, side: int) -> np.ndarray:
    """(h, w, 3) -> (side, side, 3) by nearest neighbour; repeats each pixel when ``side`` is a multiple of h and w."""
    rows = np.arange(side) * panel.shape[0] // side
    cols = np.arange(side) * panel.shape[1] // side
    return panel[rows[:, None], cols[None, :]]


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) RGB in [-1, 1] -> (H, W, 3) uint8."""
    unit = to_unit(image.detach().float().cpu())
    return (unit * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()


def mask_to_rgb(seg: torch.Tensor, palette: np.ndarray) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) uint8 colours ``palette[label]``."""
    labels = torch.as_tensor(seg).long().cpu().numpy()
    if labels.min() < 0 or labels.max() >= len(palette):
        raise ValueError(f'mask: label range {labels.min()}..{labels.max()} '
                         f'outside the {len(palette)} palette colours')
    return palette[labels]


def descriptor_to_rgb(descriptor: torch.Tensor) -> np.ndarray:
    """(2, h, w) coordinate map in [-1, 1] -> (h, w, 3) uint8 in the canonical-frame colouring."""
    if descriptor.dim() != 3 or descriptor.shape[0] != 2:
        raise ValueError(f'descriptor: expected a (2, h, w) coordinate map, '
                         f'got shape {tuple(descriptor.shape)}')
    rgb = coords_to_rgb(descriptor.detach().float().cpu()[None])[0]
    return (rgb * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()


def propagation_figure(ref_images: torch.Tensor,
                       ref_segs: torch.Tensor,
                       query_image: torch.Tensor,
                       query_seg: torch.Tensor,
                       pred_segs: torch.Tensor,
                       palette=None,
                       ref_descriptors: Optional[torch.Tensor] = None,
                       query_descriptor: Optional[torch.Tensor] = None,
                       panel_size: int = 256,
                       separator: int = 2) -> np.ndarray:
    """One query's propagation from R references -> (H, W, 3) uint8 RGB figure.

    Args:
        ref_images: (R, 3, S, S) RGB in [-1, 1].
        ref_segs: (R, S, S) reference labels.
        query_image: (3, S, S) RGB in [-1, 1].
        query_seg: (S, S) ground-truth labels of the query.
        pred_segs: (R, S, S) labels propagated from each reference.
        palette: (K, 3) RGB per class, or None for :func:`default_palette`.
        ref_descriptors: (R, 2, h, w) coordinate maps C^w, optional.
        query_descriptor: (2, h, w), drawn only together with
            ``ref_descriptors``.
        panel_size: Minimum panel side; panels are P x P with P the
            smallest multiple of S >= ``panel_size``.
        separator: Width of the white lines between panels.

    Row r is reference r; the columns are :data:`MASK_COLUMNS`, then
    :data:`DESCRIPTOR_COLUMNS` when descriptors are given. The figure is
    ``R * P + (R - 1) * separator`` high and ``C * P + (C - 1) * separator``
    wide.
    """
    num_refs, size = ref_images.shape[0], ref_images.shape[-1]
    expected = dict(ref_images=(num_refs, 3, size, size),
                    ref_segs=(num_refs, size, size),
                    query_image=(3, size, size), query_seg=(size, size),
                    pred_segs=(num_refs, size, size))
    given = dict(ref_images=ref_images, ref_segs=ref_segs,
                 query_image=query_image, query_seg=query_seg,
                 pred_segs=pred_segs)
    for name, shape in expected.items():
        if tuple(given[name].shape) != shape:
            raise ValueError(f'propagation_figure: {name} has shape '
                             f'{tuple(given[name].shape)}, expected {shape} '
                             f'(R={num_refs} references at S={size})')
    with_descriptors = ref_descriptors is not None and (
        query_descriptor is not None)
    if with_descriptors and ref_descriptors.shape[0] != num_refs:
        raise ValueError(f'propagation_figure: ref_descriptors holds '
                         f'{ref_descriptors.shape[0]} maps for {num_refs} '
                         'references')
    num_classes = 1 + max(int(torch.as_tensor(m).max())
                          for m in (ref_segs, query_seg, pred_segs))
    colours = resolve_palette(palette, num_classes)
    side = panel_side(size, panel_size)

    query_panels = [image_to_uint8(query_image), mask_to_rgb(query_seg,
                                                             colours)]
    query_desc = (descriptor_to_rgb(query_descriptor)
                  if with_descriptors else None)
    rows = []
    for r in range(num_refs):
        panels = [image_to_uint8(ref_images[r]),
                  mask_to_rgb(ref_segs[r], colours), *query_panels,
                  mask_to_rgb(pred_segs[r], colours)]
        if with_descriptors:
            panels += [descriptor_to_rgb(ref_descriptors[r]), query_desc]
        rows.append([nearest_resize(p, side) for p in panels])
    return _tile(rows, side, separator)


def _tile(rows, side: int, separator: int) -> np.ndarray:
    """Rows of equal (side, side, 3) panels -> one image with ``separator``-wide lines between them."""
    num_rows, num_cols = len(rows), len(rows[0])
    step = side + separator
    figure = np.full((num_rows * step - separator,
                      num_cols * step - separator, 3), SEPARATOR_VALUE,
                     dtype=np.uint8)
    for r, panels in enumerate(rows):
        for c, panel in enumerate(panels):
            figure[r * step:r * step + side, c * step:c * step + side] = panel
    return figure


def propagation_caption(with_descriptors: bool,
                        ref_indices: Optional[Sequence[int]] = None,
                        classes: Optional[Sequence[str]] = None,
                        palette=None,
                        file_name: str = 'query_<dataset index>.png') -> str:
    """What the rows, columns and colours of :func:`propagation_figure` mean, as text; ``file_name`` names the figures."""
    columns = list(MASK_COLUMNS)
    if with_descriptors:
        columns += list(DESCRIPTOR_COLUMNS)
    lines = [f'Label propagation, one figure per query ({file_name}).',
             'Rows: one per reference'
             + (f' (dataset indices {list(ref_indices)}, top to bottom).'
                if ref_indices is not None else ', in split order.'),
             'Columns, left to right: ' + ' | '.join(columns) + '.',
             'The query image and its ground truth repeat in every row; '
             'the propagated mask of row r is the query labelled from '
             'reference r alone.',
             'Panels are enlarged by nearest neighbour from the evaluation '
             'size; masks use the dataset palette.']
    if with_descriptors:
        lines.append('Descriptors are coordinate maps C^w coloured as the '
                     'canonical frame: x -> red, y -> green, blue falls '
                     'along both; a matching colour means a matching '
                     'canonical position.')
    if classes:
        colours = resolve_palette(palette, len(classes))
        lines.append('Palette: ' + ', '.join(
            f'{name}=({int(c[0])}, {int(c[1])}, {int(c[2])})'
            for name, c in zip(classes, colours)))
    return '\n'.join(lines) + '\n'
