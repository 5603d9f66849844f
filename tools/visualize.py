"""Pictures of a trained model: PNG files, each with a caption file ``<name>.txt`` (docs/visualization.md).

    python tools/visualize.py configs/coordgan_synthetic.py \
        work_dirs/coordgan_synthetic/iter_2000.pth --out pics/
    python tools/visualize.py configs/labelprop/coordgan_synthetic.py \
        work_dirs/coordgan-encoder_synthetic/iter_3500.pth --out pics/
    python tools/visualize.py CONFIG CKPT --out pics/ --what swap-texture corr-maps

Stage-1 CoordGAN configs give swap-texture, swap-structure and corr-maps
(plus canonical_frame.png, the colour key); label-propagation and
encoder-stage configs with a labelled test set give propagation.
"""
import argparse
import sys

from mmengine.config import Config, DictAction

from coordgan.apis.visualize import (PICTURES, PictureUnavailable,
                                     write_pictures)
from coordgan.utils import CheckpointError


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write swap grids, correspondence maps and label '
        'propagation figures of a model as PNG files with captions')
    parser.add_argument('config', help='a stage-1 config (configs/coordgan_'
                        '*.py) or a label-propagation config (configs/'
                        'labelprop/coordgan_*.py)')
    parser.add_argument('checkpoint', nargs='?', help='stage-1 checkpoint '
                        '(generator pictures) or encoder-stage checkpoint '
                        '(propagation); feature baselines read their weights '
                        'from the config')
    parser.add_argument('--out', required=True, help='folder of the PNG and '
                        'caption files')
    parser.add_argument('--what', nargs='+', choices=PICTURES, help='pictures '
                        'to draw (default: all that the config can give)')
    parser.add_argument('--num-structures', type=int, default=4)
    parser.add_argument('--num-textures', type=int, default=6)
    parser.add_argument('--num-references', type=int, default=1,
                        help='propagation: rows of each figure')
    parser.add_argument('--num-queries', type=int, default=4,
                        help='propagation: one figure per query')
    parser.add_argument('--seed', type=int, default=2022,
                        help='fixes the generator codes and noise')
    parser.add_argument('--panel-size', type=int, default=256,
                        help='minimum panel side in pixels (nearest-'
                        'neighbour enlargement)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        written = write_pictures(
            cfg, args.checkpoint, args.out, args.what,
            num_structures=args.num_structures,
            num_textures=args.num_textures,
            num_references=args.num_references,
            num_queries=args.num_queries, seed=args.seed,
            panel_size=args.panel_size, device=args.device,
            log=lambda msg: print(msg, file=sys.stderr))
    except (PictureUnavailable, FileNotFoundError, CheckpointError) as err:
        sys.exit(f'error: {err}')
    if not written:
        sys.exit(f'error: {args.config} gives none of the pictures '
                 f'{", ".join(PICTURES)}')
    for name, path in written.items():
        print(f'{name}: {path} (caption: {path[:-4]}.txt)')


if __name__ == '__main__':
    main()
