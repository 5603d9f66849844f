"""Print the networks of a config with their parameter counts; optionally run them once.

    python tools/analysis_tools/model_summary.py configs/_base_/models/coordgan_128.py --forward
"""
import argparse
import time

import torch
from mmengine import Config, DictAction

from coordgan.models import (BaseDiscriminator, BaseEncoder, BaseGenerator,
                             PatchCooccurrenceDiscriminator)
from coordgan.registry import MODELS, init_default_scope

NETWORK_KEYS = ('generator', 'discriminator', 'patch_discriminator', 'encoder')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--forward', action='store_true',
                        help='run one forward pass (batch 2) and time it')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args()


def count(module):
    return sum(p.numel() for p in module.parameters())


def run_once(net, device):
    """Inputs of the right shape for ``net`` -> a one-line description of the outputs."""
    if isinstance(net, BaseGenerator):
        out = net(*net.sample_codes(2, device=device))
        return (f'image {tuple(out.image.shape)}, C^w '
                f'{tuple(out.corr_map.shape)} in [{out.corr_map.min():.3f}, '
                f'{out.corr_map.max():.3f}]')
    if isinstance(net, PatchCooccurrenceDiscriminator):
        img = torch.randn(2, 3, 128, 128, device=device)
        logits = net(net.sample_crops(img, net.num_target_crops),
                     net.sample_crops(img, net.num_ref_crops))
        return f'logits {tuple(logits.shape)}'
    if isinstance(net, (BaseDiscriminator, BaseEncoder)):
        out = net(torch.randn(2, 3, net.in_size, net.in_size, device=device))
        shapes = [tuple(t.shape) for t in (out if isinstance(out, tuple)
                                           else (out, ))]
        return f'outputs {shapes}'
    raise TypeError(f'no example input for {type(net).__name__}')


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    # Networks live in the training model's config; the encoder beside it.
    nets = {k: cfg.model[k] for k in NETWORK_KEYS if k in cfg.get('model', {})}
    nets.update({k: cfg[k] for k in NETWORK_KEYS if k in cfg})
    if not nets:
        raise SystemExit(f'{args.config} defines none of {NETWORK_KEYS}')
    for key, net_cfg in nets.items():
        net = MODELS.build(net_cfg).to(args.device).eval()
        print(f'{key}: {type(net).__name__}, {count(net):,} parameters')
        for name, child in net.named_children():
            print(f'    {name:<22} {count(child):>12,}')
        if args.forward:
            start = time.perf_counter()
            with torch.no_grad():
                desc = run_once(net, args.device)
            print(f'    forward (batch 2): {desc}; '
                  f'{time.perf_counter() - start:.2f} s')


if __name__ == '__main__':
    main()
