"""An embedded dataset: a part-based object whose structure and texture vary independently.

Every image is rendered on the fly from ``(seed, index)``: nothing to
download, identical on every machine. An image-to-canonical warp (scale,
rotation, translation and smooth bends) is the *structure*; colours, stripes,
spots, lighting and background are the *texture*, drawn from an independent
stream. Because the parts are defined in the canonical frame, each image comes
with its exact part mask and canonical coordinate map, i.e. ground-truth
dense correspondence.
"""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from coordgan.registry import DATASETS
from .base import CoordGANBaseDataset

# Parts in paint order (later parts cover earlier ones); 0 is background.
PART_NAMES = ('background', 'head', 'ear', 'hat', 'left_eye', 'right_eye',
              'nose', 'mouth')
# Ellipses in canonical [-1, 1]^2 coordinates: (class, cx, cy, rx, ry).
_ELLIPSES = (
    (2, -0.66, 0.02, 0.12, 0.2),
    (2, 0.66, 0.02, 0.12, 0.2),
    (1, 0.0, 0.08, 0.6, 0.68),
    (4, -0.25, -0.08, 0.13, 0.08),
    (5, 0.25, -0.08, 0.13, 0.08),
    (6, 0.0, 0.15, 0.07, 0.15),
    (7, 0.0, 0.42, 0.24, 0.07),
)
_PALETTE = np.array([[0, 0, 0], [70, 130, 180], [220, 20, 60], [255, 215, 0],
                     [0, 128, 0], [50, 205, 50], [255, 140, 0],
                     [148, 0, 211]], dtype=np.uint8)


def sample_structure(rng: np.random.Generator) -> Dict[str, float]:
    """Random image -> canonical warp parameters."""
    return dict(
        scale_x=rng.uniform(0.72, 0.98), scale_y=rng.uniform(0.72, 0.98),
        angle=rng.uniform(-0.35, 0.35), shift_x=rng.uniform(-0.12, 0.12),
        shift_y=rng.uniform(-0.1, 0.1), bend=rng.uniform(-0.25, 0.25),
        bulge=rng.uniform(-0.2, 0.2), taper=rng.uniform(-0.25, 0.25))


def sample_texture(rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Random colours, patterns and lighting, independent of the structure."""
    colours = rng.uniform(0, 1, size=(len(PART_NAMES), 3))
    return dict(
        colours=colours,
        background_top=rng.uniform(0, 1, 3),
        background_bottom=rng.uniform(0, 1, 3),
        stripe_freq=rng.uniform(3, 9), stripe_angle=rng.uniform(0, np.pi),
        stripe_colour=rng.uniform(0, 1, 3),
        spot_freq=rng.uniform(2, 6, size=2), spot_phase=rng.uniform(0, 6.3, 2),
        spot_strength=rng.uniform(0, 0.35),
        light_dir=rng.normal(size=2), light_strength=rng.uniform(0, 0.35))


def canonical_coords(size: int, structure: Dict[str, float]) -> np.ndarray:
    """(size, size, 2) canonical (x, y) of every pixel centre, in roughly [-1, 1]."""
    lin = (np.arange(size) + 0.5) / size * 2 - 1
    py, px = np.meshgrid(lin, lin, indexing='ij')
    px, py = px - structure['shift_x'], py - structure['shift_y']
    c, s = np.cos(structure['angle']), np.sin(structure['angle'])
    ux = (c * px + s * py) / structure['scale_x']
    uy = (-s * px + c * py) / structure['scale_y']
    # Smooth, small bends keep the map one-to-one over the object.
    ux = ux + structure['bend'] * (uy**2 - 0.33) + structure['taper'] * ux * uy
    uy = uy + structure['bulge'] * (ux**2 - 0.33)
    return np.stack([ux, uy], axis=-1).astype(np.float32)


def part_mask(coords: np.ndarray) -> np.ndarray:
    """(H, W, 2) canonical coords -> (H, W) uint8 part labels."""
    ux, uy = coords[..., 0], coords[..., 1]
    mask = np.zeros(ux.shape, dtype=np.uint8)
    for label, cx, cy, rx, ry in _ELLIPSES[:3]:
        mask[((ux - cx) / rx)**2 + ((uy - cy) / ry)**2 <= 1] = label
    hat = (uy < -0.42) & (uy > -0.95) & (np.abs(ux) < 0.5 + 0.4 * (uy + 0.42))
    brim = (np.abs(uy + 0.45) < 0.06) & (np.abs(ux) < 0.72)
    mask[hat | brim] = 3
    for label, cx, cy, rx, ry in _ELLIPSES[3:]:
        mask[((ux - cx) / rx)**2 + ((uy - cy) / ry)**2 <= 1] = label
    return mask


def render(size: int, structure: Dict[str, float],
           texture: Dict[str, np.ndarray]) -> np.ndarray:
    """(size, size, 3) float RGB in [0, 1]."""
    coords = canonical_coords(size, structure)
    mask = part_mask(coords)
    ux, uy = coords[..., 0], coords[..., 1]
    t = np.linspace(0, 1, size)[:, None, None]
    img = (1 - t) * texture['background_top'] + t * texture['background_bottom']
    img = np.broadcast_to(img, (size, size, 3)).copy()
    colours = texture['colours']
    spots = 1 + texture['spot_strength'] * (
        np.sin(texture['spot_freq'][0] * np.pi * ux + texture['spot_phase'][0])
        * np.sin(texture['spot_freq'][1] * np.pi * uy +
                 texture['spot_phase'][1]))
    for label in range(1, len(PART_NAMES)):
        sel = mask == label
        img[sel] = colours[label] * spots[sel, None]
    # Stripes on the hat follow the canonical frame (they move with the object).
    a = texture['stripe_angle']
    stripes = np.sin(texture['stripe_freq'] * np.pi *
                     (np.cos(a) * ux + np.sin(a) * uy)) > 0
    sel = (mask == 3) & stripes
    img[sel] = texture['stripe_colour']
    lin = np.linspace(-1, 1, size)
    d = texture['light_dir'] / (np.linalg.norm(texture['light_dir']) + 1e-8)
    light = 1 + texture['light_strength'] * (d[0] * lin[None, :] +
                                             d[1] * lin[:, None])
    return np.clip(img * light[..., None], 0, 1)


def render_sample(size: int, seed: int, index: int,
                  supersample: int = 2) -> Dict[str, np.ndarray]:
    """Image (BGR uint8), part mask and canonical coordinates of sample ``index``."""
    structure = sample_structure(np.random.default_rng([seed, index, 0]))
    texture = sample_texture(np.random.default_rng([seed, index, 1]))
    big = render(size * supersample, structure, texture)
    img = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    coords = canonical_coords(size, structure)
    return dict(img=(img[..., ::-1] * 255 + 0.5).astype(np.uint8),
                gt_seg_map=part_mask(coords), gt_coords=coords)


@DATASETS.register_module()
class SyntheticPartsDataset(CoordGANBaseDataset):
    """``num_samples`` rendered images of a part-based object, ``img_size`` px (32-128).

    Each item carries ``img`` (H, W, 3) BGR uint8, ``gt_seg_map`` (H, W)
    part labels (names in ``metainfo['classes']``) and ``gt_coords``
    (H, W, 2) canonical coordinates, before the pipeline runs.
    """

    METAINFO = dict(classes=PART_NAMES, palette=[tuple(c) for c in _PALETTE])

    def __init__(self,
                 num_samples: int = 10000,
                 img_size: int = 64,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if not 8 <= img_size <= 512:
            raise ValueError(f'img_size must be in [8, 512], got {img_size}')
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.num_samples = num_samples
        self.img_size = img_size
        self.seed = seed
        super().__init__(pipeline=list(pipeline), metainfo=metainfo,
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        info = dict(super().get_data_info(idx))
        info.update(render_sample(self.img_size, self.seed,
                                  info['sample_idx']))
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        info['img_path'] = f'synthetic://{self.seed}/{info["sample_idx"]}'
        return info
