"""Query images per second of label propagation at 128 (describe + propagate + match), and memory per query.

A label-propagation config's model (``LabelPropagationModel`` with its
extractor, random weights: speed does not depend on them) describes 5
references once, then each timed call is ``model.predict(queries,
with_matches=True)``: describe the queries, and for every reference
propagate its soft labels (``softmax(-dist / tau)`` over all reference
positions) and find each query position's best match, at the protocol's
128 x 128 label grid. Data loading and resizing from native size are not
timed. Two sweeps per config: query batch sizes at the first of
``--chunk-sizes`` (default: auto, the library's), and affinity chunk sizes
(query rows per chunk, ``BaseCorrespondence.chunk_size``) at
``--chunk-batch``. Every setting runs in its own child
process, so its memory is its own: the rise of the peak RSS (CPU, VmHWM) or
of ``torch.cuda.max_memory_allocated`` over the memory after building the
model and describing the references, divided by the batch. Run from the
repository root, e.g.:

    # CPU, both configs (the 128 model: ~6 s per query on 2 quiet threads)
    PYTHONPATH=. python benchmarks/labelprop.py
    PYTHONPATH=. python benchmarks/labelprop.py --device cuda --repeats 5 \\
        --warmup 2 --batch-sizes 1 8 32 --chunk-sizes auto 1024 4096 16384 \\
        --chunk-batch 8
    PYTHONPATH=. python benchmarks/labelprop.py --configs \\
        configs/labelprop/coordgan_synthetic.py --json labelprop.json

Timings are medians of ``--repeats`` calls after ``--warmup``; the load
average at the start of each setting is reported beside it, since other
processes on the machine slow it down.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

# The shared helpers beside this script, whether it runs as a script or is
# loaded from its path (the tests).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import (current_memory, peak_memory, reset_peak,  # noqa: E402
                     synchronize)

DEFAULT_CONFIGS = ('configs/labelprop/coordgan_synthetic.py',
                   'configs/labelprop/coordgan_celeba.py')
NUM_REFERENCES = 5  # REFERENCE.md section 9
EVAL_SIZE = 128


# ------------------------------------------------------------------ model
def build_model(config, device, num_classes=None):
    """The config's LabelPropagationModel with random weights; the dataset's class count.

    -> (model, num_classes).
    """
    from mmengine.config import Config

    from coordgan.registry import DATASETS, MODELS, init_default_scope
    init_default_scope('coordgan')
    cfg = Config.fromfile(config)
    model_cfg = cfg.model.to_dict()
    model_cfg['extractor']['random_weights'] = True
    model = MODELS.build(model_cfg).to(device).eval()
    if num_classes is None:
        num_classes = dataset_classes(cfg, DATASETS)
    return model, num_classes


def dataset_classes(cfg, registry, default=8):
    """Number of classes of the config's (possibly wrapped) test dataset, from its METAINFO."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    while isinstance(dataset, dict):
        cls = registry.get(dataset.get('type', ''))
        classes = getattr(cls, 'METAINFO', {}).get('classes') if cls else None
        if classes:
            return len(classes)
        dataset = dataset.get('dataset')
    return default


def reference_batch(num_classes, size=EVAL_SIZE, num=NUM_REFERENCES):
    """Packed reference items: random uint8 images, masks of horizontal class bands."""
    g = torch.Generator().manual_seed(0)
    rows = torch.arange(size)[:, None].expand(size, size)
    samples = [dict(gt_seg_map=((rows + 7 * i) * num_classes // size)
                    % num_classes) for i in range(num)]
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                            generator=g) for _ in range(num)]
    return dict(inputs=images, data_samples=samples)


def query_images(batch, device, size=EVAL_SIZE):
    """(batch, 3, size, size) in [-1, 1], as the data preprocessor hands them over."""
    g = torch.Generator().manual_seed(1)
    return (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device)


def resolved_chunk(model, batch, device):
    """Query rows per affinity chunk that ``chunk_size=None`` picks for this batch."""
    from coordgan.ops.distances import default_chunk_size
    with torch.no_grad():
        desc = model.describe(query_images(1, device))
    positions = desc.shape[-2] * desc.shape[-1]
    return default_chunk_size(batch, positions, torch.float32, device), positions


# ------------------------------------------------------------- measurement
def measure(config, batch, chunk, device, repeats, warmup, num_classes=None,
            matches=True):
    """One setting, in this process: queries/s, ms/query, memory per query."""
    device = torch.device(device)
    load = os.getloadavg()[0]
    model, num_classes = build_model(config, device, num_classes)
    model.extractor.chunk_size = chunk
    model.set_references(reference_batch(num_classes))
    auto, positions = resolved_chunk(model, batch, device)
    queries = query_images(batch, device)
    # The peak covers the warm-up too: freed memory that the allocator keeps
    # would otherwise hide the working memory from a later baseline.
    synchronize(device)
    base = current_memory(device)
    reset_peak(device)
    with torch.no_grad():
        for _ in range(warmup):
            model.predict(queries, with_matches=matches)
        times = []
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            model.predict(queries, with_matches=matches)
            synchronize(device)
            times.append(time.perf_counter() - start)
    peak = peak_memory(device)
    seconds = statistics.median(times)
    return dict(
        config=config, batch=batch, chunk=chunk,
        chunk_rows=min(chunk or auto, positions), positions=positions,
        num_classes=num_classes, references=NUM_REFERENCES,
        matches=matches, queries_per_s=batch / seconds,
        ms_per_query=1000 * seconds / batch,
        times_s=times, mib_per_query=max(0, peak - base) / batch / 2**20,
        peak_mib=peak / 2**20, base_mib=base / 2**20,
        extractor=model.extractor.display_name,
        threads=torch.get_num_threads(), load_avg_1m=load)


# ---------------------------------------------------------- child processes
def child_command(args, config, batch, chunk):
    command = [sys.executable, os.path.abspath(__file__), '--child',
               '--configs', config, '--batch-sizes', str(batch),
               '--chunk-sizes', 'auto' if chunk is None else str(chunk),
               '--device', args.device, '--repeats', str(args.repeats),
               '--warmup', str(args.warmup)]
    if args.num_classes:
        command += ['--num-classes', str(args.num_classes)]
    if args.threads:
        command += ['--threads', str(args.threads)]
    if not args.matches:
        command.append('--no-matches')
    return command


def run_child(args, config, batch, chunk):
    """The child's JSON result, or a dict with 'error' (its last stderr line)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.run(child_command(args, config, batch, chunk),
                          capture_output=True, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
    return dict(config=config, batch=batch, chunk=chunk,
                error=f'exit {proc.returncode}: {tail}')


def settings(args):
    """(sweep, batch, chunk) per setting: the batch sweep at the first chunk
    size, then the chunk sweep at ``--chunk-batch``; no setting twice."""
    first = args.chunk_sizes[0]
    out = [('batch', b, first) for b in args.batch_sizes]
    out += [('chunk', args.chunk_batch, c) for c in args.chunk_sizes
            if (args.chunk_batch, c) not in {(b, first)
                                              for b in args.batch_sizes}]
    return out


# ------------------------------------------------------------------ output
def machine(args):
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cpu=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count(), load_avg=os.getloadavg(),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    if args.device.startswith('cuda') and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name()
    return info


def print_tables(report):
    from terminaltables import AsciiTable
    args, info = report['args'], report['machine']
    busy = info['load_avg'][0] > 0.5
    work = 'describe + propagate' + (' + match' if args['matches'] else '')
    print(f"Label propagation at {EVAL_SIZE} ({NUM_REFERENCES} references, "
          f"{work}), "
          f"device {args['device']}, median of {args['repeats']} after "
          f"{args['warmup']} warm-up; {info}")
    if busy:
        print(f"NOTE: load average {info['load_avg'][0]:.2f} at the start: "
              'other processes share the CPU, timings are noisy.')
    for config in args['configs']:
        rows = [['sweep', 'batch', 'chunk rows', 'queries/s', 'ms/query',
                 'MiB/query', 'peak MiB', 'load 1m']]
        title = config
        for sweep, r in report['results']:
            if r['config'] != config:
                continue
            if 'error' in r:
                rows.append([sweep, r['batch'], r['chunk'] or 'auto',
                             r['error'][:60], '', '', '', ''])
                continue
            title = (f"{config}: {r['extractor']}, {r['positions']} "
                     f"positions, {r['num_classes']} classes")
            chunk = (f"auto ({r['chunk_rows']})" if r['chunk'] is None
                     else str(r['chunk_rows']))
            rows.append([sweep, r['batch'], chunk,
                         f"{r['queries_per_s']:.2f}",
                         f"{r['ms_per_query']:.0f}",
                         f"{r['mib_per_query']:.1f}", f"{r['peak_mib']:.0f}",
                         f"{r['load_avg_1m']:.2f}"])
        print(title)  # a table title longer than the table is not shown
        print(AsciiTable(rows).table)


# -------------------------------------------------------------------- main
def chunk_value(text):
    """'auto' -> None (the library's default), else a positive int."""
    if text == 'auto':
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'chunk size must be >= 1 or '
                                         f'"auto", got {text}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--configs', nargs='+', default=list(DEFAULT_CONFIGS),
                        help='label-propagation configs (their model)')
    parser.add_argument('--batch-sizes', nargs='+', type=int,
                        default=[1, 2, 4], help='query batch sweep')
    parser.add_argument('--chunk-sizes', nargs='+', type=chunk_value,
                        default=[None, 256, 1024, 4096, 16384],
                        help="chunk sweep: query rows per affinity chunk, "
                        "'auto' for the default; the first one is used by "
                        'the batch sweep')
    parser.add_argument('--chunk-batch', type=int, default=1,
                        help='query batch of the chunk sweep')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--num-classes', type=int,
                        help="default: the config's test dataset's classes")
    parser.add_argument('--threads', type=int,
                        help='torch.set_num_threads in each child')
    parser.add_argument('--no-matches', dest='matches', action='store_false',
                        help='leave out the dense matches (match)')
    parser.add_argument('--json', help='write the report to this file')
    parser.add_argument('--child', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch_sizes + [args.chunk_batch, args.repeats]) < 1:
        parser.error('batch sizes and --repeats must be >= 1')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(measure(
            args.configs[0], args.batch_sizes[0], args.chunk_sizes[0],
            args.device, args.repeats, args.warmup, args.num_classes,
            args.matches)))
        return
    report = dict(args=vars(args), machine=machine(args), results=[])
    for config in args.configs:
        for sweep, batch, chunk in settings(args):
            result = run_child(args, config, batch, chunk)
            report['results'].append((sweep, result))
            print(f'{config} {sweep} sweep: batch {batch}, chunk '
                  f"{chunk or 'auto'}: "
                  + (result['error'] if 'error' in result else
                     f"{result['queries_per_s']:.2f} queries/s"),
                  file=sys.stderr, flush=True)
            if args.json:  # partial results survive an interrupted run
                with open(args.json, 'w') as f:
                    json.dump(report, f, indent=1)
    print_tables(report)


if __name__ == '__main__':
    main()
