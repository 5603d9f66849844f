"""How much C^w varies between structure codes, against the true spread of the data.

    python tools/analysis_tools/structure_spread.py configs/coordgan_synthetic.py \
        work_dirs/coordgan_synthetic/iter_2000.pth

Prints the per-pixel spread (RMS distance from the mean map, averaged over
pixels) of the EMA generator's correspondence maps over --num structure
codes, in canonical units and in pixels of the C^w grid, and, when the
training data has ground-truth canonical coordinates (the embedded
synthetic set), the same spread of the true maps and the ratio. A ratio
near 0 means the warper gives every image nearly the same map.

Two more diagnostics (docs/structure_study.md): the colour-blind edge
distance that a texture swap and a structure swap make to the picture
(pose carried by the structure codes makes the second larger), and whether
the synthesis net draws in its frame (C^w moved by --shift-px pixels should
move the picture by as much: "to moved" well below "to unmoved"); and
whether the maps explain how pictures of one texture differ (carried
through C^w into each other's frame, they should match better than
carried through their own map).

With --reach z (or w), also how well the generator's own structure codes
can draw the data's true maps: one code per image fitted to its true map
(warper_reach), and the nearest-C^w matches those fitted maps give, as a
slope and an error against the identity match's. That is the best an
encoder could do through this generator (z: codes the mapping net draws;
w: any code), measured without training one (minutes on one thread).
"""
import argparse

from mmengine.config import Config, DictAction

from coordgan.evaluation.structure import (dataset_spread, dataset_true_maps,
                                           frame_following,
                                           generator_spread,
                                           swap_edge_distances,
                                           warp_consistency, warper_reach)
from coordgan.models.algorithms.coordgan_inversion import load_stage1_generator
from coordgan.registry import DATASETS, GENERATORS, init_default_scope


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='stage-1 (CoordGAN) config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('--num', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--shift-px', type=int, default=4)
    parser.add_argument('--reach', choices=['z', 'w'],
                        help='also fit one structure code per training '
                        'image to its true map, in this space')
    parser.add_argument('--reach-num', type=int, default=128)
    parser.add_argument('--reach-steps', type=int, default=500)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides the checkpoint was trained '
                        'with, e.g. model.generator.noise_inputs=False')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
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
    swaps = swap_edge_distances(generator, seed=args.seed)
    print(f'edge distance of a texture swap {swaps["texture"]:.3f}, of a '
          f'structure swap {swaps["structure"]:.3f} (64 pairs)')
    if generator.out_size == generator.grid_size:
        follow = frame_following(generator, args.shift_px, seed=args.seed)
        print(f'C^w moved by {args.shift_px} px: edge distance to the picture '
              f'moved by as much {follow["to_moved"]:.3f}, to the unmoved '
              f'picture {follow["to_unmoved"]:.3f}')
    consistency = warp_consistency(generator, seed=args.seed)
    print(f'same-texture pairs carried into each other\'s frame through C^w:'
          f' L1 {consistency["warped"]:.3f}, through their own map '
          f'{consistency["unwarped"]:.3f} (64 pairs; lower when the maps '
          f'explain the pose)')
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
    if args.reach:
        # images are paired 2k, 2k + 1: an even number of them
        num = min(args.reach_num, len(dataset)) // 2 * 2
        maps, fg = dataset_true_maps(dataset, num, grid, foreground=True)
        reach = warper_reach(generator, maps, fg, space=args.reach,
                             steps=args.reach_steps, seed=args.seed)
        print(f'codes fitted to {len(maps)} true maps ({args.reach}, '
              f'{args.reach_steps} steps): misfit {reach["fit"]:.4f}; their '
              f'matches: slope {reach["slope"]:.2f}, error '
              f'{reach["error_px"]:.2f} px against the identity match\'s '
              f'{reach["identity_px"]:.2f} px (ratio '
              f'{reach["error_px"] / reach["identity_px"]:.2f})')


if __name__ == '__main__':
    main()
