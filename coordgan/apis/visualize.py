"""Paper-style pictures of a trained model as PNG files, each with a caption file (``tools/visualize.py``).

    from coordgan.apis.visualize import write_pictures
    write_pictures('configs/coordgan_synthetic.py',
                   'work_dirs/coordgan_synthetic/iter_2000.pth', 'pics')

Which pictures a config can give follows from its model type: a stage-1
``CoordGAN`` gives the generator pictures (swap grids, correspondence maps
and the colour key of the canonical frame), a label-propagation or
encoder-stage config with a labelled test set gives the propagation figure.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import cv2
import mmengine
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from coordgan.models.algorithms.coordgan_inversion import \
    load_stage1_generator
from coordgan.registry import DATASETS, GENERATORS, init_default_scope
from coordgan.visualization import (canonical_frame_legend,
                                    correspondence_grid, propagation_caption,
                                    propagation_figure, resolve_palette,
                                    structure_swap_grid, swap_grid)
from coordgan.visualization.swap_grid import panel_side
from .inference import init_model

GENERATOR_PICTURES = ('swap-texture', 'swap-structure', 'corr-maps')
PICTURES = GENERATOR_PICTURES + ('propagation', )
GENERATOR_MODELS = ('CoordGAN', )
PROPAGATION_MODELS = ('LabelPropagationModel', 'CoordGANInversion')

COLOUR_KEY = ('C^w colours: a canonical point (x, y) in [-1, 1]^2 (x to the '
              'right, y down) is drawn as RGB = ((x + 1) / 2, (y + 1) / 2, '
              '1 - (x + y + 2) / 4); canonical_frame.png shows the whole '
              'frame (docs/visualization.md).')


class PictureUnavailable(ValueError):
    """A picture kind that the config's model cannot give."""


def _as_config(config: Union[str, Config]) -> Config:
    return Config.fromfile(config) if isinstance(config, str) else config


def unavailable_reason(cfg: Config, kind: str) -> Optional[str]:
    """Why ``cfg`` cannot give picture ``kind``, or None when it can."""
    if kind not in PICTURES:
        raise ValueError(f'unknown picture {kind!r}; choose from '
                         f'{", ".join(PICTURES)}')
    model_type = cfg.model.get('type')
    name = getattr(cfg, 'filename', None) or 'this config'
    if kind in GENERATOR_PICTURES and model_type not in GENERATOR_MODELS:
        return (f'{kind} is not available for {name}: its model is '
                f'{model_type}, and generator pictures need a stage-1 '
                'CoordGAN config and checkpoint (e.g. '
                'configs/coordgan_synthetic.py)')
    if kind == 'propagation':
        if model_type not in PROPAGATION_MODELS:
            return (f'propagation is not available for {name}: its model is '
                    f'{model_type}; the propagation figure needs a '
                    'label-propagation config (e.g. configs/labelprop/'
                    'coordgan_synthetic.py) and an encoder-stage checkpoint')
        if cfg.get('test_dataloader') is None:
            return (f'propagation is not available for {name}: it has no '
                    'labelled test set (test_dataloader); use its '
                    'configs/labelprop/ config, e.g. configs/labelprop/'
                    'coordgan_synthetic.py')
    return None


def write_picture(out_dir: str, name: str, image: np.ndarray,
                  caption: str) -> str:
    """(H, W, 3) uint8 RGB -> ``<out_dir>/<name>.png`` and ``<out_dir>/<name>.txt``; returns the PNG path."""
    mmengine.mkdir_or_exist(out_dir)
    path = osp.join(out_dir, f'{name}.png')
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1])):
        raise OSError(f'could not write {path}')
    with open(osp.join(out_dir, f'{name}.txt'), 'w') as f:
        f.write(caption)
    return path


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (image.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(
        np.uint8)


def load_generator(config: Union[str, Config], checkpoint: str,
                   device: str = 'cpu') -> torch.nn.Module:
    """The EMA generator of a stage-1 CoordGAN checkpoint, built from the config, in eval mode."""
    cfg = _as_config(config)
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    if checkpoint is None:
        raise PictureUnavailable('generator pictures need a stage-1 '
                                 'checkpoint (work_dirs/coordgan_*/'
                                 'iter_*.pth): none was given')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    generator = GENERATORS.build(cfg.model.generator)
    load_stage1_generator(generator, checkpoint)
    return generator.to(device).eval()


@torch.no_grad()
def generator_pictures(generator: torch.nn.Module,
                       out_dir: str,
                       kinds: Sequence[str] = GENERATOR_PICTURES,
                       num_structures: int = 4,
                       num_textures: int = 6,
                       seed: int = 2022,
                       panel_size: int = 256) -> Dict[str, str]:
    """Swap grids and correspondence maps from codes fixed by ``seed`` -> {picture name: PNG path}.

    The canonical-frame colour key (``canonical_frame``) comes with every
    picture that shows C^w.
    """
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    z_s = torch.randn(num_structures, generator.z_dim, generator=rng)
    z_t = torch.randn(num_textures, generator.z_dim, generator=rng)
    z_s, z_t = z_s.to(device), z_t.to(device)
    num_pairs = min(num_structures, num_textures)
    devices = [] if device.type == 'cpu' else [device]
    with torch.random.fork_rng(devices=devices):
        size = generator(z_s[:1], z_t[:1]).image.shape[-1]
    drawers = {
        'swap-texture': (
            'swap_texture', lambda: swap_grid(generator, z_s, z_t, panel_size),
            ['Texture swap: rows share structure, columns vary texture.',
             f'Rows: {num_structures} structure codes z_s, one per row; '
             'every image of a row is drawn from that row\'s structure '
             'code, so layout, pose and parts should stay in place.',
             'Column 1: the row\'s correspondence map C^w, colour-coded. '
             f'Columns 2-{num_textures + 1}: {num_textures} texture codes '
             'z_t, one per column; every image of a column is drawn from '
             'that column\'s texture code (colours, appearance).']),
        'swap-structure': (
            'swap_structure',
            lambda: structure_swap_grid(generator, z_s, z_t, panel_size),
            ['Structure swap: rows share texture, columns vary structure.',
             'Row 1: each column\'s correspondence map C^w, colour-coded. '
             f'Rows 2-{num_textures + 1}: {num_textures} texture codes '
             'z_t, one per row; every image of a row is drawn from that '
             'row\'s texture code (colours, appearance).',
             f'Columns: {num_structures} structure codes z_s, one per '
             'column; every image of a column is drawn from that column\'s '
             'structure code, so layout, pose and parts should stay in '
             'place.']),
        'corr-maps': (
            'correspondence_maps',
            lambda: correspondence_grid(generator, z_s[:num_pairs],
                                        z_t[:num_pairs], panel_size),
            ['Correspondence maps: one generated sample per column '
             f'({num_pairs} samples, structure and texture code k for '
             'column k).',
             'Row 1: the generated image. Row 2: its correspondence map '
             'C^w, colour-coded; pixels of equal colour in two columns are '
             'mapped to the same canonical point, so they are the '
             'generator\'s dense correspondences.']),
    }
    written = {}
    for kind in kinds:
        name, draw, lines = drawers[kind]
        # Fixed noise too, so that two runs draw the same pictures.
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            grid = draw()
        lines = lines + [
            f'Codes drawn from N(0, I) with seed {seed}; EMA generator.',
            f'Panels: the {size} px output enlarged by nearest neighbour to '
            f'{panel_side(size, panel_size)} px, no separators.', COLOUR_KEY]
        written[name] = write_picture(out_dir, name, _to_uint8(grid),
                                      '\n'.join(lines) + '\n')
    if written:
        legend = canonical_frame_legend(max(panel_size, 2))
        written['canonical_frame'] = write_picture(
            out_dir, 'canonical_frame', _to_uint8(legend),
            canonical_frame_caption(legend.shape[-1]))
    return written


def canonical_frame_caption(side: int) -> str:
    return '\n'.join([
        'Colour key of the canonical frame: every colour-coded '
        'correspondence map C^w uses these colours.',
        f'Pixel (row i, column j) of this {side} x {side} image is the '
        f'canonical point x = -1 + 2 j / {side - 1}, '
        f'y = -1 + 2 i / {side - 1}: x grows to the right, y downwards.',
        'Colour: RGB = ((x + 1) / 2, (y + 1) / 2, 1 - (x + y + 2) / 4) in '
        '[0, 1], times 255 rounded. Corners: top-left (-1, -1) blue '
        '(0, 0, 255), top-right (1, -1) (255, 0, 128), bottom-left '
        '(-1, 1) (0, 255, 128), bottom-right (1, 1) yellow (255, 255, 0).'
    ]) + '\n'


@torch.no_grad()
def propagation_pictures(config: Union[str, Config],
                         checkpoint: Optional[str],
                         out_dir: str,
                         num_references: int = 1,
                         num_queries: int = 4,
                         panel_size: int = 256,
                         device: str = 'cpu') -> Dict[str, str]:
    """Label propagation of the test set's first queries from its first references -> {name: PNG path}."""
    cfg = _as_config(config)
    model = init_model(cfg, checkpoint, device)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    meta = dict(getattr(dataset, 'metainfo', None) or {})
    references = dataset.get_references()[:num_references]
    if not references:
        raise PictureUnavailable('propagation: the test set has no '
                                 'reference images')
    model.set_references(pseudo_collate(references), meta)
    refs = model.references
    ref_desc = refs['descriptors'].cpu()
    ref_desc = ref_desc if ref_desc.shape[1] == 2 else None
    classes = meta.get('classes')
    palette = meta.get('palette')
    if classes:
        palette = resolve_palette(palette, len(classes))
    items = [dataset[i] for i in range(min(num_queries, len(dataset)))]
    written = {}
    if not items:
        return written
    data = model.data_preprocessor(pseudo_collate(items), False)
    preds = model.predict(data['inputs'])
    for i, (sample, pred) in enumerate(zip(data['data_samples'], preds)):
        index = int(sample.get('dataset_index', i))
        query_desc = pred.get('pred_descriptor')
        with_desc = ref_desc is not None and query_desc is not None
        figure = propagation_figure(
            refs['images'].cpu(), refs['seg'].cpu(), data['inputs'][i].cpu(),
            sample['gt_seg_map'].cpu(), pred['pred_seg_maps'], palette,
            ref_desc, query_desc, panel_size=panel_size)
        caption = propagation_caption(
            with_desc, refs['indices'], classes, palette,
            file_name='propagation_query_<dataset index>.png')
        if with_desc:
            caption += COLOUR_KEY + '\n'
        written[f'propagation_query_{index}'] = write_picture(
            out_dir, f'propagation_query_{index}', figure, caption)
    return written


def write_pictures(config: Union[str, Config],
                   checkpoint: Optional[str],
                   out_dir: str,
                   kinds: Optional[Sequence[str]] = None,
                   num_structures: int = 4,
                   num_textures: int = 6,
                   num_references: int = 1,
                   num_queries: int = 4,
                   seed: int = 2022,
                   panel_size: int = 256,
                   device: str = 'cpu',
                   log=print) -> Dict[str, str]:
    """The pictures ``kinds`` (default: all the config can give) -> {name: PNG path}.

    A kind asked for by name that the config cannot give raises
    :class:`PictureUnavailable`; with ``kinds=None`` such kinds are skipped
    and ``log`` says why.
    """
    if panel_size < 1:
        raise ValueError(f'panel_size must be >= 1, got {panel_size}')
    cfg = _as_config(config)
    requested = list(PICTURES if kinds is None else kinds)
    chosen: List[str] = []
    for kind in requested:
        reason = unavailable_reason(cfg, kind)
        if reason is None:
            chosen.append(kind)
        elif kinds is not None:
            raise PictureUnavailable(reason)
        else:
            log(f'skipped: {reason}')
    written: Dict[str, str] = {}
    gen_kinds = [k for k in chosen if k in GENERATOR_PICTURES]
    if gen_kinds:
        generator = load_generator(cfg, checkpoint, device)
        written.update(generator_pictures(
            generator, out_dir, gen_kinds, num_structures, num_textures,
            seed, panel_size))
    if 'propagation' in chosen:
        written.update(propagation_pictures(
            cfg, checkpoint, out_dir, num_references, num_queries,
            panel_size, device))
    return written
