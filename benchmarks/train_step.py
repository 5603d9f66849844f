"""Seconds per iteration and peak memory of a full CoordGAN ``train_step``, per variant.

The model and its optimizer wrappers are built from a config as the Runner
builds them (MODELS registry in the ``coordgan`` scope, the config's
``optim_wrapper`` through its constructor), and ``model.train_step`` runs on
a synthetic uint8 batch. Every variant runs in its own child process, so
its peak memory (max RSS on CPU, ``torch.cuda.max_memory_allocated`` on
CUDA) is its own. Run from the repository root, e.g.:

    # the paper's 128 model, batch 2 per device; fp32, bf16 and bf16 + compile
    PYTHONPATH=. python benchmarks/train_step.py --amp bf16 --compile
    # CPU, channels scaled to 1/8, chunked and dense warp loss side by side
    PYTHONPATH=. python benchmarks/train_step.py --width 0.125 --warp dense
    # the largest per-device batch under 70 GiB, and the phase breakdown
    PYTHONPATH=. python benchmarks/train_step.py --max-batch-budget-gib 70 --breakdown

Variants are written as ``+``-joined tokens (``--variants fp32 bf16+compile
fp32+dense``); the flags add to the fp32 baseline: ``--amp bf16|fp16`` (may
repeat), ``--compile`` (on top of the last ``--amp`` precision, else fp32),
``--channels-last``, ``--fused-modconv`` (the generator's modulated convs
as grouped convs, the authors' form), ``--warp dense`` (the dense twin of
every other variant, with the dense/chunked ratio printed).

What is timed: iterations with the model's iteration counter past every
warm-up (``--start-iter``), so all losses are on. The lazy R1 step runs
every ``interval`` iterations: the median is over iterations without it,
one R1 iteration is timed on its own, and ``amortised`` adds its extra time
divided by the interval. LPIPS runs on a random VGG (same compute; nothing
is downloaded).
"""

import argparse
import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import time

import torch

# The shared helpers beside this script, whether it runs as a script or is
# loaded from its path (the tests).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import (current_memory, machine, make_batch,  # noqa: E402
                     peak_memory, reset_peak, synchronize)

PRECISIONS = ('fp32', 'bf16', 'fp16')
AMP_DTYPES = {'bf16': 'bfloat16', 'fp16': 'float16'}
OPTIONS = ('compile', 'channels-last', 'dense', 'dense-chamfer',
           'fused-modconv')
# Integer widths scaled by --width (generator and patch D); the image D has
# its own channel_scale.
WIDTH_KEYS = ('channels', 'z_dim', 'style_dim', 'hidden_channels',
              'upsample_channels', 'hidden_dim')
PHASE_PREFIX = 'coordgan/'


# ------------------------------------------------------------------ variants
def parse_variant(spec):
    """'bf16+compile' -> {'precision': 'bf16', 'compile': True, ...}; ValueError naming the tokens."""
    tokens = spec.split('+')
    precisions = [t for t in tokens if t in PRECISIONS]
    unknown = [t for t in tokens if t not in PRECISIONS + OPTIONS]
    if unknown or len(precisions) > 1:
        raise ValueError(f'variant {spec!r}: tokens are one of {PRECISIONS} '
                         f'and any of {OPTIONS}, joined by "+"')
    variant = {'precision': precisions[0] if precisions else 'fp32'}
    for option in OPTIONS:
        variant[option] = option in tokens
    return variant


def variant_name(variant):
    """Inverse of parse_variant: the canonical spec."""
    return '+'.join([variant['precision']] +
                    [o for o in OPTIONS if variant[o]])


def variants_from_flags(args):
    """The variant specs the flags ask for, baseline first, without repeats."""
    if args.variants:
        specs = [variant_name(parse_variant(s)) for s in args.variants]
    else:
        specs = ['fp32'] + list(args.amp or [])
        if args.compile:
            specs.append(f'{(args.amp or ["fp32"])[-1]}+compile')
        if args.channels_last:
            specs.append('fp32+channels-last')
        if args.fused_modconv:
            specs.append('fp32+fused-modconv')
    if args.warp == 'dense':
        specs += [variant_name(dict(parse_variant(s), dense=True))
                  for s in specs if not parse_variant(s)['dense']]
    return list(dict.fromkeys(specs))


# ---------------------------------------------------------------- the model
def scale_widths(cfg, width):
    """Multiply the integer widths in a module config (nested) by ``width``, at least 1."""
    if isinstance(cfg, dict):
        return {k: (_scaled(v, width) if k in WIDTH_KEYS else
                    scale_widths(v, width)) for k, v in cfg.items()}
    return cfg


def _scaled(value, width):
    if isinstance(value, (list, tuple)):
        return type(value)(max(1, round(v * width)) for v in value)
    return max(1, round(value * width)) if isinstance(value, int) else value


def model_config(args, variant):
    """The config's model dict, scaled by --width, with the variant's loss options."""
    from mmengine import Config
    cfg = Config.fromfile(args.config)
    model = cfg.model.to_dict()
    if args.width != 1:
        for key in ('generator', 'patch_discriminator'):
            model[key] = scale_widths(model[key], args.width)
        model['discriminator']['channel_scale'] = model['discriminator'].get(
            'channel_scale', 1.0) * args.width
    # Same network and compute as the trained VGG; no file needed.
    model['perceptual'] = dict(model.get('perceptual') or dict(type='LPIPS'),
                               random_backbone=True)
    losses = model['losses']
    if variant['dense'] and losses.get('warp'):
        losses['warp']['implementation'] = 'dense'
    if variant['dense-chamfer'] and losses.get('chamfer'):
        losses['chamfer']['implementation'] = 'dense'
    if variant['fused-modconv']:
        model['generator']['fused_modconv'] = True
    return cfg, model


@contextlib.contextmanager
def _with_autocast(context, model, device_type, dtype):
    with context(model), torch.autocast(device_type, dtype=dtype):
        yield


def build(args, variant, device):
    """-> (model, optim wrapper dict) as the Runner builds them, on ``device``."""
    from mmengine.registry import init_default_scope

    from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    init_default_scope('coordgan')
    cfg, model_cfg = model_config(args, variant)
    model = MODELS.build(model_cfg).to(device)
    if variant['channels-last']:
        for net in (model.generator, model.discriminator,
                    model.patch_discriminator):
            net.to(memory_format=torch.channels_last)
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    precision = variant['precision']
    amp_dtype = AMP_DTYPES.get(precision)
    if amp_dtype is not None and device.type == 'cuda':
        for sub in wrapper_cfg.values():
            if isinstance(sub, dict) and 'optimizer' in sub:
                # fp16 needs the dynamic loss scale; bf16 keeps it harmlessly.
                sub.update(type='AmpOptimWrapper', dtype=amp_dtype,
                           loss_scale='dynamic')
    elif precision == 'fp16':
        raise RuntimeError('fp16 with loss scaling needs CUDA (mmengine '
                           'AmpOptimWrapper); on the CPU use --amp bf16')
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=wrapper_cfg.pop('constructor'),
             optim_wrapper_cfg=wrapper_cfg))(model)
    if amp_dtype is not None and device.type == 'cpu':
        # AmpOptimWrapper asserts a GPU; its optim_context is autocast, so
        # the CPU gets the same through the plain wrapper's context.
        for wrapper in wrappers.values():
            wrapper.optim_context = functools.partial(
                _with_autocast, wrapper.optim_context, device_type='cpu',
                dtype=getattr(torch, amp_dtype))
    if variant['compile']:
        compile_networks(model)
    model.train()
    return model, wrappers


def compile_networks(model):
    """torch.compile the forward of G, D and patch D in place (parameters, EMA and optimizers untouched).

    R1's inputs are leaves that require a gradient, and its penalty needs a
    double backward, which compiled graphs (aot_autograd) do not support:
    those calls run eagerly.
    """
    for net in (model.generator, model.discriminator,
                model.patch_discriminator):
        eager = net.forward
        compiled = torch.compile(eager)

        def forward(*inputs, _eager=eager, _compiled=compiled, **kwargs):
            first = inputs[0] if inputs else None
            if (isinstance(first, torch.Tensor) and first.is_leaf
                    and first.requires_grad):
                return _eager(*inputs, **kwargs)
            return _compiled(*inputs, **kwargs)

        net.forward = forward


# ------------------------------------------------------------- measurement
def r1_interval(model):
    """Every how many iterations the image D's lazy R1 runs (1 if none: every step alike)."""
    return model.regularization_interval(['discriminator']) or 1


def timed_step(model, wrappers, batch, iteration, device):
    """Seconds of one train_step at ``iteration`` (the counter decides which losses and regularizers run)."""
    model.iteration.fill_(iteration)
    synchronize(device)
    start = time.perf_counter()
    model.train_step(batch, wrappers)
    synchronize(device)
    return time.perf_counter() - start


def measure(args, variant):
    """One variant in this process -> dict of timings and memory."""
    device = torch.device(args.device)
    model, wrappers = build(args, variant, device)
    batch = make_batch(model, args.batch)
    interval = r1_interval(model)
    start_iter = args.start_iter - args.start_iter % interval
    reset_peak(device)
    after_build = current_memory(device)
    # Warm-up: the first iteration has R1 due, so both paths are built
    # (and compiled) before timing.
    for k in range(args.warmup):
        timed_step(model, wrappers, batch, start_iter + k, device)
    times = []
    for k in range(args.repeats):
        # Iterations without R1 (all of them when it runs every step).
        iteration = (start_iter if interval == 1 else
                     start_iter + 1 + k % (interval - 1))
        times.append(timed_step(model, wrappers, batch, iteration, device))
    median = statistics.median(times) if times else None
    result = dict(variant=variant_name(variant), batch=args.batch,
                  s_per_it=median, times_s=times, r1_interval=interval,
                  after_build_mib=after_build / 2**20)
    if interval > 1 and times:
        # The first R1 iteration builds the double-backward graph and picks
        # its kernels: untimed, like the warm-up above.
        timed_step(model, wrappers, batch, start_iter + interval, device)
        r1 = timed_step(model, wrappers, batch, start_iter + 2 * interval,
                        device)
        result.update(r1_step_s=r1,
                      s_per_it_amortised=median + (r1 - median) / interval)
    result['peak_mib'] = peak_memory(device) / 2**20
    if args.breakdown_iters:
        result['breakdown'] = breakdown(model, wrappers, batch, start_iter,
                                        interval, device, args.breakdown_iters)
    return result


def breakdown(model, wrappers, batch, start_iter, interval, device, iters):
    """Per-phase ms per call of ``iters`` profiled iterations (the first with R1) -> list of rows."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for k in range(iters):
            timed_step(model, wrappers, batch, start_iter + 3 * interval + k,
                       device)
    rows = []
    for event in prof.key_averages():
        if not event.key.startswith(PHASE_PREFIX):
            continue
        row = dict(phase=event.key[len(PHASE_PREFIX):], calls=event.count,
                   ms_per_call=event.cpu_time_total / 1e3 / event.count)
        device_total = getattr(event, 'device_time_total', 0) or 0
        if device_total:
            row['device_ms_per_call'] = device_total / 1e3 / event.count
        rows.append(row)
    return rows


def fits(args, variant, batch):
    """One iteration (R1 due) at ``batch`` in this process -> {'fits', 'peak_mib', 'error'}."""
    device = torch.device(args.device)
    try:
        model, wrappers = build(args, variant, device)
        interval = r1_interval(model)
        reset_peak(device)
        timed_step(model, wrappers, make_batch(model, batch),
                   args.start_iter - args.start_iter % interval, device)
    except torch.OutOfMemoryError as err:
        return dict(fits=False, peak_mib=None, error=str(err).splitlines()[0])
    peak = peak_memory(device) / 2**20
    return dict(fits=peak <= args.max_batch_budget_gib * 1024,
                peak_mib=peak, error=None)


# ---------------------------------------------------------- child processes
def child_command(args, spec, mode, batch=None):
    command = [sys.executable, os.path.abspath(__file__), '--child', mode,
               '--variants', spec, '--config', args.config,
               '--width', str(args.width), '--device', args.device,
               '--batch', str(args.batch if batch is None else batch),
               '--repeats', str(args.repeats), '--warmup', str(args.warmup),
               '--start-iter', str(args.start_iter),
               '--breakdown-iters', str(args.breakdown_iters)]
    if args.max_batch_budget_gib is not None:
        command += ['--max-batch-budget-gib', str(args.max_batch_budget_gib)]
    return command


def run_child(args, spec, mode, batch=None, env=None):
    """The child's JSON result, or {'error': its last stderr line} if it failed."""
    proc = subprocess.run(child_command(args, spec, mode, batch),
                          capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
    return dict(error=f'exit {proc.returncode}: {tail}')


def search_max_batch(args, spec):
    """Largest even per-device batch within the budget: doubling from --batch-start, then bisection to --batch-step."""
    deadline = time.monotonic() + args.search_time_s
    tries = {}

    def ok(batch):
        """Whether ``batch`` fits; None if its child failed for another reason than memory."""
        result = run_child(args, spec, 'fits', batch)
        tries[batch] = result
        if 'fits' in result:
            return result['fits']
        # Killed by the kernel's out-of-memory killer (CPU): does not fit.
        return False if result['error'].startswith('exit -9') else None

    low, high, stopped = 0, None, 'bracket'
    batch = args.batch_start
    while True:
        if batch > args.max_batch_cap:
            stopped = 'cap'
            break
        if time.monotonic() > deadline:
            stopped = 'time'
            break
        fit = ok(batch)
        if fit is None:
            stopped = 'error'
            break
        if not fit:
            high = batch
            break
        low = batch
        batch *= 2
    # The step never exceeds half the largest batch that fits, so a small
    # maximum (the dense warp loss) is still found to within a pair.
    while stopped == 'bracket' and high - low > max(
            2, min(args.batch_step, low // 2)):
        if time.monotonic() > deadline:
            stopped = 'time'
            break
        mid = (low + high) // 2 // 2 * 2
        fit = ok(mid)
        if fit is None:
            stopped = 'error'
        elif fit:
            low = mid
        else:
            high = mid
    return dict(variant=spec, max_batch=low, first_failing=high,
                stopped=stopped, budget_gib=args.max_batch_budget_gib,
                cap=args.max_batch_cap,
                tries={str(k): v for k, v in sorted(tries.items())})


# ------------------------------------------------------------------ output
def print_tables(report):
    from terminaltables import AsciiTable
    args = report['args']
    print(f"CoordGAN train_step: {args['config']} width {args['width']}, "
          f"batch {args['batch']} per device, device {args['device']}, "
          f"median of {args['repeats']} after {args['warmup']} warm-up; "
          f"{report['machine']}")
    rows = [['variant', 's/it', 's/it amortised (R1)', 'it/s',
             'peak MiB', 'after build MiB']]
    for spec, r in report['variants'].items():
        if 'error' in r:
            rows.append([spec, r['error'][:70], '', '', '', ''])
            continue
        rows.append([spec, f"{r['s_per_it']:.3f}",
                     f"{r.get('s_per_it_amortised', r['s_per_it']):.3f}",
                     f"{1 / r['s_per_it']:.2f}", f"{r['peak_mib']:.0f}",
                     f"{r['after_build_mib']:.0f}"])
    print(AsciiTable(rows, 'train_step').table)
    if report.get('ratios'):
        rows = [['dense / chunked', 'time', 'peak memory']]
        rows += [[k, f"{v['time']:.2f}x", f"{v['peak']:.2f}x"]
                 for k, v in report['ratios'].items()]
        print(AsciiTable(rows, 'warp loss').table)
    for spec, r in report['variants'].items():
        if r.get('breakdown'):
            has_device = any('device_ms_per_call' in b for b in r['breakdown'])
            rows = [['phase', 'calls', 'ms/call'] +
                    (['device ms/call'] if has_device else [])]
            for b in r['breakdown']:
                rows.append([b['phase'], b['calls'], f"{b['ms_per_call']:.1f}"]
                            + ([f"{b.get('device_ms_per_call', 0):.1f}"]
                               if has_device else []))
            print(AsciiTable(rows, f'phases ({spec}; nested: *_step contain '
                             'the rest)').table)
    for spec, r in (report.get('max_batch') or {}).items():
        bound = dict(bracket=f"{r['first_failing']} does not fit",
                     cap=f"the cap {r['cap']} reached",
                     time='search time over',
                     error='a try failed, see the JSON')[r['stopped']]
        if r['first_failing'] and r['stopped'] != 'bracket':
            bound += f"; {r['first_failing']} does not fit"
        print(f"max per-device batch within {r['budget_gib']} GiB ({spec}): "
              f"{r['max_batch']} ({bound})")


def dense_ratios(results):
    """{'fp32': {'time': dense/chunked, 'peak': ...}} for each variant measured both ways."""
    ratios = {}
    for spec, dense in results.items():
        variant = parse_variant(spec)
        if not variant['dense'] or 'error' in dense:
            continue
        chunked = results.get(variant_name(dict(variant, dense=False)))
        if chunked and 'error' not in chunked:
            ratios[variant_name(dict(variant, dense=False))] = dict(
                time=dense['s_per_it'] / chunked['s_per_it'],
                peak=dense['peak_mib'] / chunked['peak_mib'])
    return ratios


# -------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[2:]))
    parser.add_argument('--config', default='configs/coordgan_celeba.py')
    parser.add_argument('--width', type=float, default=1.0,
                        help='scale the channel counts (e.g. 0.125 on a CPU)')
    parser.add_argument('--batch', type=int, default=None,
                        help='per-device batch, even (CoordGAN pairs images);'
                        ' default: the config\'s train_dataloader.batch_size'
                        ' (2 in the paper\'s configs, 4 in the synthetic)')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda when available)')
    parser.add_argument('--amp', action='append', choices=PRECISIONS[1:],
                        help='add a mixed-precision variant (may repeat)')
    parser.add_argument('--compile', action='store_true',
                        help='add a torch.compile variant (G, D, patch D)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--fused-modconv', action='store_true',
                        help='also the grouped-conv modulated convs (the '
                        "authors' form; the default is the shared-weight "
                        'form)')
    parser.add_argument('--warp', choices=('chunked', 'dense'),
                        default='chunked',
                        help='dense: also measure every variant with the '
                        'dense-affinity warp loss and print the ratio')
    parser.add_argument('--variants', nargs='+',
                        help='explicit variant specs, e.g. fp32 bf16+compile')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--start-iter', type=int, default=20000,
                        help='iteration counter for the timed steps (past '
                        'the warm-ups: every loss on)')
    parser.add_argument('--breakdown', action='store_true',
                        help='phase breakdown of the first variant (CUDA: '
                        'with CUDA_LAUNCH_BLOCKING=1 so ranges hold their '
                        'kernels)')
    parser.add_argument('--breakdown-iters', type=int, default=0,
                        help=argparse.SUPPRESS)
    parser.add_argument('--max-batch-budget-gib', type=float, default=None,
                        help='also find the largest per-device batch whose '
                        'peak memory fits (CPU: max RSS) for the baseline '
                        'and, with --warp dense, its dense twin')
    parser.add_argument('--max-batch-cap', type=int, default=256)
    parser.add_argument('--batch-start', type=int, default=2,
                        help='first batch the search tries (even)')
    parser.add_argument('--batch-step', type=int, default=2,
                        help='bisect until the bracket is this narrow (or '
                        'half the largest batch that fits, if less)')
    parser.add_argument('--search-time-s', type=float, default=1e9,
                        help='stop the batch search after this long (the '
                        'bracket found so far is reported)')
    parser.add_argument('--json', help='write the report to this file')
    parser.add_argument('--child', choices=('measure', 'fits'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.batch is None:
        from mmengine import Config
        args.batch = Config.fromfile(args.config).train_dataloader.batch_size
    if args.batch % 2 or args.batch_start % 2 or args.batch_start < 2:
        parser.error(f'--batch and --batch-start must be even (pairs), got '
                     f'{args.batch} and {args.batch_start}')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        variant = parse_variant(args.variants[0])
        if args.child == 'fits':
            print(json.dumps(fits(args, variant, args.batch)))
        else:
            print(json.dumps(measure(args, variant)))
        return
    specs = variants_from_flags(args)
    report = dict(args=vars(args), machine=machine(), variants={})

    def save():
        # After every stage, so a run cut short keeps what it measured.
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(report, f, indent=1)

    for spec in specs:
        report['variants'][spec] = run_child(args, spec, 'measure')
        save()
    if args.breakdown:
        # Its own child: profiling overhead stays out of the timings above.
        env = {'CUDA_LAUNCH_BLOCKING': '1'} if args.device == 'cuda' else {}
        profiled = run_child(argparse.Namespace(**dict(
            vars(args), breakdown_iters=3, repeats=0, warmup=args.warmup)),
            specs[0], 'measure', env=env)
        report['variants'][specs[0]]['breakdown'] = profiled.get(
            'breakdown', [dict(phase=profiled.get('error', '?'), calls=0,
                               ms_per_call=0.0)])
        save()
    report['ratios'] = dense_ratios(report['variants'])
    if args.max_batch_budget_gib is not None:
        report['max_batch'] = {}
        for spec in [s for s in specs if s in ('fp32', 'fp32+dense')
                     ] or specs[:1]:
            report['max_batch'][spec] = search_max_batch(args, spec)
            save()
    save()
    print_tables(report)


if __name__ == '__main__':
    main()
