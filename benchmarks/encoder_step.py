"""Seconds per iteration of the encoder stage's ``train_step``, with the generator's modulated convs in both forms.

The encoder stage (``CoordGANInversion``) backpropagates through the frozen
generator twice per step (reconstruction and texture swap), so the form of
its modulated convs decides much of the step: ``shared`` scales the
activations around one shared-weight conv (the default), ``fused`` is one
grouped conv with per-sample weights (``fused_modconv=True``, the authors'
form). Both models are built in this one process from the same config with
the same weights and are timed in alternating rounds, so a drift of the
machine's speed reaches both alike; the report gives each form's median
over the rounds (each round: the mean of ``--steps`` steps) and the ratio
fused / shared. The generator keeps its random initial weights unless
``--generator-checkpoint`` names a stage-1 checkpoint (the time does not
depend on them); the batch is random uint8 images of the config's size.
Run from the repository root:

    PYTHONPATH=. python benchmarks/encoder_step.py
    PYTHONPATH=. python benchmarks/encoder_step.py --rounds 9 --json enc.json
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

# The shared helpers beside this script, whether it runs as a script or is
# loaded from its path (the tests).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import machine, make_batch  # noqa: E402

FORMS = ('shared', 'fused')


def build(args, form):
    """-> (model, optim wrapper dict, the config's batch size) of ``args.config`` with ``form`` modulated convs."""
    from mmengine import Config
    from mmengine.registry import init_default_scope

    from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    init_default_scope('coordgan')
    cfg = Config.fromfile(args.config)
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('type') != 'CoordGANInversion':
        raise ValueError(f'{args.config}: model.type is '
                         f'{model_cfg.get("type")!r}; this benchmark times the '
                         'encoder stage (CoordGANInversion); stage 1 has '
                         'benchmarks/train_step.py --fused-modconv')
    model_cfg['generator'] = dict(model_cfg['generator'],
                                  fused_modconv=form == 'fused')
    model_cfg['generator_checkpoint'] = args.generator_checkpoint
    if model_cfg.get('perceptual'):
        # Same network and compute as the trained VGG; no file needed.
        model_cfg['perceptual'] = dict(model_cfg['perceptual'],
                                       random_backbone=True)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=wrapper_cfg.pop('constructor'),
             optim_wrapper_cfg=wrapper_cfg))(model)
    model.train()
    return model, wrappers, cfg.train_dataloader.batch_size


def run(args):
    """Both forms, alternating rounds -> report dict."""
    models = {form: build(args, form) for form in FORMS}
    # Same weights in both (the build is seeded; this makes it certain).
    models['fused'][0].load_state_dict(models['shared'][0].state_dict())
    batch_size = args.batch or models['shared'][2]
    batch = make_batch(models['shared'][0], batch_size)
    for model, wrappers, _ in models.values():
        for _ in range(args.warmup):
            model.train_step(batch, wrappers)
    rounds = {form: [] for form in FORMS}
    for _ in range(args.rounds):
        for form in FORMS:
            model, wrappers, _ = models[form]
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_step(batch, wrappers)
            rounds[form].append((time.perf_counter() - start) / args.steps)
    medians = {form: statistics.median(v) for form, v in rounds.items()}
    return dict(
        config=args.config, batch=batch_size, rounds=args.rounds,
        steps=args.steps, warmup=args.warmup,
        s_per_it=medians, rounds_s=rounds,
        ratio_fused_over_shared=medians['fused'] / medians['shared'],
        machine=machine())


def print_report(report):
    from terminaltables import AsciiTable
    print(f"encoder train_step: {report['config']}, batch {report['batch']}, "
          f"median of {report['rounds']} rounds of {report['steps']} steps "
          f"after {report['warmup']} warm-up; {report['machine']}")
    rows = [['modulated conv', 's/it (median)', 'rounds (s/it)']]
    for form in FORMS:
        rows.append([form, f"{report['s_per_it'][form]:.4f}",
                     ' '.join(f'{t:.3f}' for t in report['rounds_s'][form])])
    print(AsciiTable(rows, 'encoder step').table)
    print(f"fused / shared: {report['ratio_fused_over_shared']:.2f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config',
                        default='configs/coordgan-encoder_synthetic.py')
    parser.add_argument('--generator-checkpoint', default=None)
    parser.add_argument('--batch', type=int, default=None,
                        help="images per step (default: the config's)")
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--steps', type=int, default=10,
                        help='steps per round')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--json', help='also write the report to this file')
    args = parser.parse_args(argv)
    for name in ('rounds', 'steps'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
