"""The correspondence kind for label propagation: per-pixel descriptors and how to compare them."""
from abc import ABCMeta, abstractmethod
from typing import Optional

import torch
import torch.nn as nn

from coordgan.ops import (nearest_matches, soft_correspondence,
                          soft_correspondence_with_matches)


class BaseCorrespondence(nn.Module, metaclass=ABCMeta):
    """Given images, return per-pixel descriptors; given two descriptor maps, move labels.

    ``describe`` takes images (B, 3, S, S) in [-1, 1] at ``input_size`` and
    returns descriptors (B, D, h, w). ``propagate`` turns query and reference
    descriptors and the reference's soft labels (B, K, h', w') into the
    query's soft labels (B, K, h, w); the default is
    ``softmax(-dist / tau)`` over all reference positions (plain L2 unless
    ``squared``). :meth:`match` gives each query position its single best
    reference position and a confidence (dense correspondence). Feature
    baselines override :meth:`describe` (and :meth:`propagate` /
    :meth:`match` for other rules such as cosine top-k); the evaluator does
    not change. The evaluator asks for labels and matches together through
    :meth:`propagate_and_match`: one pass over the affinity with this
    class's rules, the two methods otherwise.
    """

    #: Whether the weights are random stand-ins (tables say so).
    random_weights = False
    #: Query positions per chunk of the affinity in :meth:`propagate` and
    #: :meth:`match` (None: sized to ~8 MiB on CPU, ~32 MiB on GPU); speed
    #: and memory only, same results (benchmarks/labelprop.py sweeps it).
    chunk_size: Optional[int] = None

    def __init__(self, input_size: int = 128, tau: float = 0.01,
                 squared: bool = False):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        self.input_size = input_size
        self.tau = tau
        self.squared = squared

    @property
    def display_name(self) -> str:
        """Row name in result tables."""
        name = type(self).__name__
        return f'{name} (random weights)' if self.random_weights else name

    @abstractmethod
    def describe(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, D, h, w) descriptors."""

    def propagate(self, query: torch.Tensor, ref: torch.Tensor,
                  ref_labels: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w), (B, D, h', w'), (B, K, h', w') -> (B, K, h, w) soft labels."""
        b, _, h, w = query.shape
        out = soft_correspondence(
            _points(query), _points(ref), _points(_on_grid(ref_labels, ref)),
            self.tau, self.squared, self.chunk_size)
        return out.transpose(1, 2).reshape(b, -1, h, w)

    def match(self, query: torch.Tensor, ref: torch.Tensor):
        """(B, D, h, w), (B, D, h', w') -> positions (B, h, w, 2), confidence (B, h, w).

        Positions are the (x, y) of the nearest reference descriptor in
        reference cells (cell centres at 0 .. w' - 1); the confidence is that
        match's probability under ``softmax(-dist / tau)``.
        """
        index, prob = nearest_matches(_points(query), _points(ref), self.tau,
                                      self.squared, self.chunk_size)
        return _cells(index, prob, query, ref)

    def propagate_and_match(self, query: torch.Tensor, ref: torch.Tensor,
                            ref_labels: torch.Tensor):
        """:meth:`propagate` and :meth:`match` at once -> soft labels, positions, confidence.

        Where a subclass keeps both of this class's rules, one pass over the
        affinity serves both (:func:`soft_correspondence_with_matches`: each
        chunk's distances and softmax computed once, no gradients); a
        subclass that overrides either method gets its own two methods
        called.
        """
        cls = type(self)
        if (cls.propagate is not BaseCorrespondence.propagate
                or cls.match is not BaseCorrespondence.match):
            return (self.propagate(query, ref, ref_labels),
                    *self.match(query, ref))
        b, _, h, w = query.shape
        out, index, prob = soft_correspondence_with_matches(
            _points(query), _points(ref), _points(_on_grid(ref_labels, ref)),
            self.tau, self.squared, self.chunk_size)
        return (out.transpose(1, 2).reshape(b, -1, h, w),
                *_cells(index, prob, query, ref))


def _points(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h * w, C) float32."""
    return maps.flatten(2).transpose(1, 2).float()


def _on_grid(labels: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Soft labels (B, K, H, W) bilinearly resized to the reference descriptors' grid."""
    if labels.shape[-2:] != ref.shape[-2:]:
        labels = nn.functional.interpolate(labels, size=ref.shape[-2:],
                                           mode='bilinear',
                                           align_corners=False)
    return labels


def _cells(index: torch.Tensor, prob: torch.Tensor, query: torch.Tensor,
           ref: torch.Tensor):
    """Flat reference indices (B, h * w) and their probabilities -> (x, y) cells (B, h, w, 2), confidence (B, h, w)."""
    b, _, h, w = query.shape
    ref_w = ref.shape[-1]
    pos = torch.stack([index % ref_w, index // ref_w], -1)
    return pos.float().reshape(b, h, w, 2), prob.float().reshape(b, h, w)
