"""How much C^w varies between structure codes, against the true spread of the data.

    python tools/analysis_tools/structure_spread.py configs/coordgan_synthetic.py \
        work_dirs/coordgan_synthetic/iter_2000.pth

Prints the per-pixel spread (RMS distance from the mean map, averaged over
pixels) of the EMA generator's correspondence maps over --num structure
codes, in canonical units and in pixels of the C^w grid, and, when the
training data has ground-truth canonical coordinates (the embedded
synthetic set), the same spread of the true maps and the ratio. A ratio
near 0 means the warper gives every image nearly the same map.
"""
import argparse

from mmengine.config import Config

from coordgan.evaluation.structure import dataset_spread, generator_spread
from coordgan.models.algorithms.coordgan_inversion import load_stage1_generator
from coordgan.registry import DATASETS, GENERATORS, init_default_scope


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='stage-1 (CoordGAN) config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('--num', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    generator = GENERATORS.build(cfg.model.generator)
    load_stage1_generator(generator, args.checkpoint)
    generator.eval()
    grid = generator.grid_size
    px = (grid - 1) / 2
    spread = generator_spread(generator, args.num, seed=args.seed)
    print(f'generator C^w spread over {args.num} structure codes: '
          f'{spread:.4f} canonical = {spread * px:.2f} px of the {grid}x'
          f'{grid} grid')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[]))
    try:
        true = dataset_spread(dataset, args.num, size=grid)
    except KeyError as err:
        print(f'no true spread: {err}')
        return
    print(f'true canonical-map spread over {min(args.num, len(dataset))} '
          f'training images: {true:.4f} canonical = {true * px:.2f} px')
    print(f'ratio generator / true: {spread / true:.3f}')


if __name__ == '__main__':
    main()
