"""StyleGAN2 weight modulation/demodulation, in two equivalent forms.

The per-sample weight ``w'[b] = demod(weight * styles[b])`` can be applied
as one grouped convolution (``fused=True``: the sample's weight is built,
the batch becomes the groups; the authors' code does this) or by scaling
the input channels by ``styles[b]``, convolving with the shared weight and
scaling the output channels by the demodulation coefficients
(``fused=False``, StyleGAN2-ADA's training path). Both compute the same
function; they differ in float rounding and speed. On a CPU the shared-weight
form is the faster: the grouped convolution's backward is about 4x its
forward (docs/benchmarks.md, "Modulated convolution").
"""
import torch
import torch.nn.functional as F


def modulate_weight(weight: torch.Tensor,
                    styles: torch.Tensor,
                    demodulate: bool = True,
                    eps: float = 1e-8) -> torch.Tensor:
    """(O, I, k, k) weight, (B, I) styles -> (B, O, I, k, k) per-sample weight."""
    w = weight[None] * styles[:, None, :, None, None]
    if demodulate:
        w = w * torch.rsqrt(w.pow(2).sum(dim=(2, 3, 4), keepdim=True) + eps)
    return w


def demodulation_coefficients(weight: torch.Tensor,
                              styles: torch.Tensor,
                              eps: float = 1e-8) -> torch.Tensor:
    """(O, I, k, k) weight, (B, I) styles -> (B, O): 1 / |weight * styles[b]| per output channel.

    The norm of each output channel's modulated weight, computed without
    building the (B, O, I, k, k) weight: sum_i styles[b, i]^2 *
    sum_k weight[o, i, k]^2. Elementwise, not a matmul, so that autocast
    leaves it in the inputs' precision (as ``modulate_weight``).
    """
    norm = (styles.pow(2)[:, None, :] *
            weight.pow(2).sum(dim=(2, 3))[None]).sum(dim=2)
    return torch.rsqrt(norm + eps)


def modulated_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     styles: torch.Tensor,
                     demodulate: bool = True,
                     padding: int = 0,
                     upsample: bool = False,
                     eps: float = 1e-8,
                     fused: bool = False) -> torch.Tensor:
    """(B, I, H, W) -> (B, O, H', W') with a modulated (and demodulated) weight per sample.

    ``weight`` (O, I, k, k) already carries its equalised-lr scale. With
    ``upsample`` the conv is transposed with stride 2 (output 2H + k - 2 - 2p);
    the caller blurs afterwards. ``fused``: one grouped conv with the
    per-sample weights; otherwise styles scale the input, the shared weight
    convolves, the demodulation scales the output (same function, see the
    module's docstring).
    """
    b, in_ch, h, w = x.shape
    out_ch, w_in, k, _ = weight.shape
    if w_in != in_ch or styles.shape != (b, in_ch):
        raise ValueError(
            f'modulated_conv2d: input has {in_ch} channels and batch {b}, '
            f'weight expects {w_in} input channels, styles have shape '
            f'{tuple(styles.shape)} (expected {(b, in_ch)})')
    if not fused:
        if demodulate and torch.float16 in (x.dtype, styles.dtype):
            # float16 (autocast makes the affine's styles float16): the
            # demodulation cancels any positive per-sample scale of the
            # styles, and dividing them by their largest magnitude keeps
            # x * styles and their squares in range (StyleGAN2-ADA does the
            # same). Other precisions skip it: no rounding changes there.
            styles = styles / styles.abs().amax(
                dim=1, keepdim=True).clamp_min(eps)
        x = x * styles[:, :, None, None].to(x.dtype)
        if upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1),
                                     padding=padding, stride=2)
        else:
            out = F.conv2d(x, weight, padding=padding)
        if demodulate:
            coef = demodulation_coefficients(weight, styles, eps)
            out = out * coef[:, :, None, None].to(out.dtype)
        return out
    wb = modulate_weight(weight, styles, demodulate, eps)
    x = x.reshape(1, b * in_ch, h, w)
    if upsample:
        # conv_transpose2d takes (in, out/groups, k, k) per group.
        wb = wb.transpose(1, 2).reshape(b * in_ch, out_ch, k, k)
        out = F.conv_transpose2d(x, wb, padding=padding, stride=2, groups=b)
    else:
        out = F.conv2d(x, wb.reshape(b * out_ch, in_ch, k, k),
                       padding=padding, groups=b)
    return out.reshape(b, out_ch, *out.shape[-2:])
