"""One table of label-propagation results in the layout of the paper's Table 1.

Methods are rows, datasets columns (IoU as the paper computes it, and the
standard mIoU; the dense-match error and PCK@0.10 where the dataset has
ground-truth coordinates). Inputs are result files of ``tools/test.py --out``
or test configs, which are run here through mmengine's Runner:

    python tools/analysis_tools/labelprop_table.py configs/labelprop/*_synthetic.py \\
        --checkpoint configs/labelprop/coordgan_synthetic.py=work_dirs/coordgan-encoder_synthetic/iter_3500.pth
    python tools/analysis_tools/labelprop_table.py results/*.json --out-dir work_dirs/table1

Writes ``<out-dir>/labelprop_table.json`` (every record, all metrics) and
``<out-dir>/labelprop_table.md``.
"""
import argparse
import json
import os
import os.path as osp

from terminaltables import AsciiTable

from coordgan.apis import run_test
from coordgan.evaluation.report import markdown_table, paper_table


def parse_args():
    parser = argparse.ArgumentParser(
        description='Label-propagation results as the paper\'s Table 1')
    parser.add_argument('inputs', nargs='+', help='tools/test.py --out JSON '
                        'files and/or test configs (run here)')
    parser.add_argument('--checkpoint', nargs='+', default=[],
                        metavar='CONFIG=CKPT',
                        help='checkpoint of a config given as input')
    parser.add_argument('--out-dir', default='work_dirs/labelprop_table')
    return parser.parse_args()


def parse_checkpoints(pairs, configs):
    """``CONFIG=CKPT`` strings -> {normalised config path: checkpoint}."""
    out = {}
    for pair in pairs:
        if '=' not in pair:
            raise SystemExit(f'--checkpoint {pair!r}: expected CONFIG=CKPT')
        config, ckpt = pair.split('=', 1)
        key = osp.normpath(config)
        if key not in configs:
            raise SystemExit(f'--checkpoint {pair!r}: {config} is not one of '
                             f'the input configs {sorted(configs)}')
        out[key] = ckpt
    return out


def load_record(path: str) -> dict:
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as err:
        raise SystemExit(f'{path}: cannot read it as JSON ({err})') from None
    missing = [k for k in ('method', 'dataset', 'metrics') if k not in record]
    if missing:
        raise SystemExit(f'{path}: not a tools/test.py --out result (no '
                         f'{", ".join(missing)})')
    return record


def main():
    args = parse_args()
    configs = {osp.normpath(p) for p in args.inputs if p.endswith('.py')}
    checkpoints = parse_checkpoints(args.checkpoint, configs)
    records = []
    for path in args.inputs:
        if path.endswith('.py'):
            records.append(run_test(path, checkpoints.get(osp.normpath(path))))
        else:
            records.append(load_record(path))
    rows, cells = paper_table(records)
    print(AsciiTable(rows, 'label propagation (Table 1 layout)').table)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'labelprop_table.json'), 'w') as f:
        json.dump(dict(table=cells, records=records), f, indent=2)
    with open(osp.join(args.out_dir, 'labelprop_table.md'), 'w') as f:
        f.write(markdown_table(rows))
    print(f'written: {args.out_dir}/labelprop_table.json and .md')


if __name__ == '__main__':
    main()
