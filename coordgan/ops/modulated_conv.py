"""StyleGAN2 weight modulation/demodulation as one grouped convolution."""
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


def modulated_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     styles: torch.Tensor,
                     demodulate: bool = True,
                     padding: int = 0,
                     upsample: bool = False,
                     eps: float = 1e-8) -> torch.Tensor:
    """(B, I, H, W) -> (B, O, H', W') with a modulated (and demodulated) weight per sample.

    ``weight`` (O, I, k, k) already carries its equalised-lr scale. With
    ``upsample`` the conv is transposed with stride 2 (output 2H + k - 2 - 2p);
    the caller blurs afterwards.
    """
    b, in_ch, h, w = x.shape
    out_ch, w_in, k, _ = weight.shape
    if w_in != in_ch or styles.shape != (b, in_ch):
        raise ValueError(
            f'modulated_conv2d: input has {in_ch} channels and batch {b}, '
            f'weight expects {w_in} input channels, styles have shape '
            f'{tuple(styles.shape)} (expected {(b, in_ch)})')
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
