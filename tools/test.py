"""Label propagation benchmark: propagate part labels from references to queries, print IoU.

    python tools/test.py configs/coordgan-encoder_synthetic.py work_dirs/coordgan-encoder_synthetic/iter_1500.pth
    python tools/test.py CONFIG CKPT --out results.json --show-dir vis/
"""
import argparse
import json
import os
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank, init_dist
from terminaltables import AsciiTable

from coordgan.apis import (default_split, init_cpu_distributed,
                           propagate_labels, shutdown_distributed)
from coordgan.registry import DATASETS, FEATURE_EXTRACTORS, init_default_scope


def parse_args():
    parser = argparse.ArgumentParser(
        description='Label propagation benchmark (REFERENCE.md section 9)')
    parser.add_argument('config', help='config with a `propagation` section')
    parser.add_argument('checkpoint', help='encoder-stage checkpoint')
    parser.add_argument('--out', help='write all metrics as JSON here')
    parser.add_argument('--show-dir', help='draw reference, masks, query, '
                        'prediction and correspondence maps here')
    parser.add_argument('--no-baselines', action='store_true',
                        help='skip the baselines listed in the config')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_methods(cfg, checkpoint: str, with_baselines: bool) -> dict:
    """Name -> correspondence plug-in; the config's method gets the checkpoint."""
    prop = cfg.propagation
    method = prop.method.to_dict()
    if method['type'] == 'CoordGANCorrespondence':
        method.setdefault('encoder', cfg.model.encoder.to_dict())
        method.setdefault('generator', cfg.model.generator.to_dict())
    method['checkpoint'] = checkpoint
    methods = {method['type']: FEATURE_EXTRACTORS.build(method)}
    if with_baselines:
        for base in prop.get('baselines', []):
            methods[base['type']] = FEATURE_EXTRACTORS.build(base)
    return methods


def tables(results: dict, classes) -> str:
    summary = [['method', 'IoU (paper)', 'mIoU', 'seconds']]
    for name, res in results.items():
        summary.append([name, f'{res["propagation/IoU"]:.2f}',
                        f'{res["propagation/mIoU"]:.2f}',
                        f'{res["seconds"]:.1f}'])
    per_class = [['class'] + [f'{n} IoU' for n in results]]
    for cls in classes[1:]:
        per_class.append([cls] + [
            f'{res[f"propagation/IoU/{cls}"]:.2f}' for res in results.values()
        ])
    return (AsciiTable(summary, 'label propagation').table + '\n' +
            AsciiTable(per_class, 'per class (paper IoU)').table)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    if args.launcher != 'none' and not init_cpu_distributed(args.launcher):
        init_dist(args.launcher)
    if 'propagation' not in cfg:
        raise SystemExit(f'{args.config} has no `propagation` section')
    prop = cfg.propagation
    dataset = DATASETS.build(prop.dataset)
    refs, queries = default_split(len(dataset), prop.get('num_refs', 5))
    refs = list(prop.get('ref_indices') or refs)
    queries = list(prop.get('query_indices') or queries)
    for idx in refs + queries:
        if not 0 <= idx < len(dataset):
            raise SystemExit(f'index {idx} is outside the dataset '
                             f'({len(dataset)} items)')
    results = {}
    for name, method in build_methods(cfg, args.checkpoint,
                                      not args.no_baselines).items():
        start = time.perf_counter()
        show = None
        if args.show_dir and name == prop.method.type:
            show = args.show_dir
        res = propagate_labels(method, dataset, refs, queries,
                               prop.get('batch_size', 8), args.device, show)
        res['seconds'] = time.perf_counter() - start
        results[name] = res
    if get_rank() == 0:
        print(f'{len(refs)} references x {len(queries)} queries of '
              f'{type(dataset).__name__} ({len(dataset)} items)')
        print(tables(results, dataset.metainfo['classes']))
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                               references=refs, num_queries=len(queries),
                               results=results), f, indent=2)
    shutdown_distributed()


if __name__ == '__main__':
    main()
