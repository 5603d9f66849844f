"""Brute-force versions of the encoder's layers in plain torch ops (REFERENCE.md 1b, 7).

Written independently of coordgan.models.layers: explicit ``F.pad`` calls,
a hand-built [1, 2, 1] outer-product blur run channel by channel, the
equalised scale 1 / sqrt(fan_in) applied by hand. Weights are passed in
(copied from the module under test).
"""
import math

import torch
import torch.nn.functional as F


def pad(x, left, right, top, bottom, mode):
    """``mode`` 'reflect' or 'zeros'."""
    if mode == 'zeros':
        return F.pad(x, (left, right, top, bottom), mode='constant', value=0.)
    return F.pad(x, (left, right, top, bottom), mode='reflect')


def blur121(x):
    """Valid (unpadded) correlation with the normalised [1, 2, 1] x [1, 2, 1] kernel."""
    taps = torch.tensor([1., 2., 1.], dtype=x.dtype)
    kernel = torch.outer(taps, taps) / 16
    channels = [
        F.conv2d(x[:, c:c + 1], kernel[None, None]) for c in range(x.shape[1])
    ]
    return torch.cat(channels, dim=1)


def equal_conv(x, weight, stride=1):
    """Unpadded conv with weight * 1 / sqrt(in * k * k), no bias."""
    fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
    return F.conv2d(x, weight / math.sqrt(fan_in), stride=stride)


def act(x, bias):
    """Bias per channel, then leaky ReLU 0.2 times sqrt(2)."""
    return F.leaky_relu(x + bias[None, :, None, None], 0.2) * math.sqrt(2)


def res_block(x, w1, b1, w2, b2, w_skip, skip_mode='zeros'):
    """The encoder's residual down block; ``skip_mode`` pads the skip blur."""
    h = act(equal_conv(pad(x, 1, 1, 1, 1, 'reflect'), w1), b1)
    # [1, 2, 1] blur before a 3x3 stride-2 conv: pads 2 before, 1 after.
    h = blur121(pad(h, 2, 1, 2, 1, 'reflect'))
    h = act(equal_conv(h, w2, stride=2), b2)
    # Before a 1x1 stride-2 conv: pads 1 before, 0 after.
    s = equal_conv(blur121(pad(x, 1, 0, 1, 0, skip_mode)), w_skip, stride=2)
    return (h + s) / math.sqrt(2)


def texture_conv(x, weight, bias):
    """The authors' texture conv: zero pad top and left by one, 3x3 stride 2, activation."""
    return act(equal_conv(pad(x, 1, 0, 1, 0, 'zeros'), weight, stride=2), bias)


def res_block_of(block):
    """A ResBlock's weights as keyword arguments of :func:`res_block`."""
    p = dict(block.named_parameters())
    return dict(w1=p['conv1.1.weight'], b1=p['conv1.2.bias'],
                w2=p['conv2.1.weight'], b2=p['conv2.2.bias'],
                w_skip=p['skip.1.weight'])


def randomize_(module):
    """Random values for every parameter (biases start at 0 and would test nothing)."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    return module
