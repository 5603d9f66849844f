"""Evaluate a model with mmengine's Runner: label propagation (REFERENCE.md section 9) or generation metrics (section 10).

    python tools/test.py configs/labelprop/coordgan_synthetic.py work_dirs/coordgan-encoder_synthetic/iter_3500.pth
    python tools/test.py configs/labelprop/resnet50_celeba.py        # weights from the config / $TORCH_HOME
    python tools/test.py CONFIG [CKPT] --out results.json --show-dir vis/
    bash tools/dist_test.sh CONFIG CKPT 8                             # 8 GPUs split the queries
    python tools/test.py configs/eval_swap_synthetic.py work_dirs/coordgan_synthetic/iter_2000.pth  # swap LPIPS / FID
"""
import argparse
import json
import os

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

from coordgan.apis import (build_runner, init_cpu_distributed,
                           prepare_test_config, result_record,
                           shutdown_distributed)
from coordgan.evaluation.report import (generation_table, per_class_table,
                                       summary_table)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test a coordgan model (label propagation benchmark)')
    parser.add_argument('config', help='test config, e.g. configs/labelprop/'
                        'coordgan_synthetic.py')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint to load '
                        '(CoordGAN: an encoder-stage checkpoint); feature '
                        'baselines read their weights from the config')
    parser.add_argument('--work-dir', help='logs go here (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--out', help='write the method, dataset and all '
                        'metrics as JSON here (input of tools/analysis_tools/'
                        'labelprop_table.py)')
    parser.add_argument('--show-dir', help='draw references, masks, '
                        'queries, propagated masks and correspondence maps '
                        'here (PNG)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'test_dataloader.dataset.split=celeba')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        cfg = prepare_test_config(cfg, args.config, args.checkpoint,
                                  args.work_dir, args.show_dir)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from None
    init_cpu_distributed(args.launcher)
    runner = build_runner(cfg)
    metrics = runner.test()
    if cfg.test_cfg.get('type') == 'GenerationTestLoop':
        if get_rank() == 0:
            print(generation_table(metrics).table)
            if args.out:
                with open(args.out, 'w') as f:
                    json.dump(dict(config=args.config,
                                   checkpoint=args.checkpoint,
                                   metrics=metrics), f, indent=2)
        shutdown_distributed()
        return
    if get_rank() == 0:
        record = result_record(runner, metrics, config=args.config,
                               checkpoint=args.checkpoint)
        print(f'{len(record["references"])} references x '
              f'{record["num_queries"]} queries of {record["dataset"]}')
        print(summary_table([record]).table)
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        if classes:
            print(per_class_table(record, classes).table)
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(record, f, indent=2)
    shutdown_distributed()


if __name__ == '__main__':
    main()
