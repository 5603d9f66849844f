"""Operations across the samples of a batch."""
import torch


def minibatch_stddev(x: torch.Tensor,
                     group_size: int = 4,
                     num_features: int = 1,
                     eps: float = 1e-8) -> torch.Tensor:
    """(B, C, H, W) -> (B, C + F, H, W): append the std over groups of samples.

    The group is ``min(B, group_size)`` consecutive-stride samples (B must be
    divisible by it); the std is biased, averaged over channels and pixels.
    """
    b, c, h, w = x.shape
    group = min(b, group_size)
    if b % group:
        raise ValueError(
            f'minibatch_stddev: batch size {b} is not divisible by the group '
            f'size {group}')
    y = x.reshape(group, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.var(dim=0, unbiased=False) + eps)
    y = y.mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
    y = y.repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


def pair_swap(x: torch.Tensor) -> torch.Tensor:
    """(2n, ...) -> (2n, ...) with each consecutive pair exchanged: [a0, a1, b0, b1] -> [a1, a0, b1, b0]."""
    if x.shape[0] % 2:
        raise ValueError(f'pair_swap needs an even batch, got {x.shape[0]}')
    return x.reshape(-1, 2, *x.shape[1:]).flip(1).reshape(x.shape)
