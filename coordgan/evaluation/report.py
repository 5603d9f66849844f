"""Result records and tables of the label-propagation benchmark (tools/test.py and the comparison tool)."""
from typing import Dict, List, Sequence, Tuple

from terminaltables import AsciiTable

# (metric key, column title, format) of the one-method summary.
SUMMARY_COLUMNS = (
    ('propagation/IoU', 'IoU (paper)', '{:.2f}'),
    ('propagation/mIoU', 'mIoU', '{:.2f}'),
    ('correspondence/mean_error', 'match error (px)', '{:.2f}'),
    ('correspondence/PCK@0.05', 'PCK@0.05', '{:.1f}'),
    ('correspondence/PCK@0.10', 'PCK@0.10', '{:.1f}'),
    ('correspondence/displacement_slope', 'match slope', '{:.2f}'),
    ('speed/query_images_per_s', 'query img/s', '{:.2f}'),
)


def make_record(metrics: Dict[str, float], method: str, dataset: str,
                **extra) -> dict:
    """What tools/test.py --out writes: method and dataset names plus every metric."""
    return dict(method=method, dataset=dataset, metrics=dict(metrics),
                **extra)


def _cell(metrics: dict, key: str, fmt: str) -> str:
    value = metrics.get(key)
    return '-' if value is None else fmt.format(value)


def summary_table(records: Sequence[dict]) -> AsciiTable:
    """One row per record: the method's IoU, mIoU, dense-match error, PCK and speed."""
    keys = [c for c in SUMMARY_COLUMNS
            if any(c[0] in r['metrics'] for r in records)]
    rows = [['method', 'dataset'] + [title for _, title, _ in keys]]
    for r in records:
        rows.append([r['method'], r['dataset']] +
                    [_cell(r['metrics'], k, f) for k, _, f in keys])
    return AsciiTable(rows, 'label propagation')


def per_class_table(record: dict, classes: Sequence[str]) -> AsciiTable:
    """Per-class paper IoU and standard IoU of one record."""
    m = record['metrics']
    rows = [['class', 'IoU (paper)', 'IoU (standard)']]
    for i, cls in enumerate(classes):
        paper = '-' if i == 0 else _cell(m, f'propagation/IoU/{cls}', '{:.2f}')
        rows.append([cls, paper, _cell(m, f'propagation/mIoU/{cls}',
                                       '{:.2f}')])
    return AsciiTable(rows, f'per class: {record["method"]}')


def paper_table(records: Sequence[dict]
                ) -> Tuple[List[List[str]], Dict[str, Dict[str, dict]]]:
    """Records -> rows in the layout of the paper's Table 1 and the same as nested dicts.

    Methods are rows (first-seen order), datasets columns, each with IoU
    (paper) and mIoU, plus the dense-match error where a dataset has
    ground-truth coordinates. A method evaluated twice on one dataset keeps
    its last record.
    """
    methods, datasets = [], []
    cells: Dict[str, Dict[str, dict]] = {}
    for r in records:
        if r['method'] not in methods:
            methods.append(r['method'])
        if r['dataset'] not in datasets:
            datasets.append(r['dataset'])
        cells.setdefault(r['method'], {})[r['dataset']] = r['metrics']
    with_error = {d for d in datasets if any(
        'correspondence/mean_error' in cells[m].get(d, {}) for m in methods)}
    header = ['method']
    for d in datasets:
        header += [f'{d} IoU', f'{d} mIoU']
        if d in with_error:
            header += [f'{d} match error (px)', f'{d} PCK@0.10']
    rows = [header]
    for m in methods:
        row = [m]
        for d in datasets:
            metrics = cells[m].get(d, {})
            row += [_cell(metrics, 'propagation/IoU', '{:.2f}'),
                    _cell(metrics, 'propagation/mIoU', '{:.2f}')]
            if d in with_error:
                row += [_cell(metrics, 'correspondence/mean_error', '{:.2f}'),
                        _cell(metrics, 'correspondence/PCK@0.10', '{:.1f}')]
        rows.append(row)
    return rows, cells


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) -> a GitHub Markdown table."""
    lines = ['| ' + ' | '.join(rows[0]) + ' |',
             '|' + '|'.join('---' for _ in rows[0]) + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows[1:]]
    return '\n'.join(lines) + '\n'


def generation_table(metrics: Dict[str, float]) -> AsciiTable:
    """Generation metrics (swap LPIPS, FID), one row per metric key, as tools/test.py prints them."""
    rows = [['metric', 'value']]
    for key, value in metrics.items():
        whole = isinstance(value, int) or float(value).is_integer()
        text = str(int(value)) if whole else f'{value:.4f}'
        rows.append([key, text])
    return AsciiTable(rows, title='generation metrics')
