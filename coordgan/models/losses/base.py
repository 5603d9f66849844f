"""The loss kind: a weighted, optionally warmed-up term of a training objective.

A loss is a plug-in: it declares the steps (``phases``) it takes part in and
reads what it needs from that step's :class:`StepOutputs`; the training
models loop over their configured losses and never name one. Adding a term
is one registered class plus one config entry::

    @LOSSES.register_module()
    class MyTerm(BaseLoss):
        phases = ('generator',)

        def compute(self, phase, step):
            return step.fake.corr_map.diff(dim=-1).abs().mean()

    model = dict(losses=dict(my_term=dict(type='MyTerm', loss_weight=0.1)))

Its value is logged as ``loss_my_term`` (``loss_<name>_d`` in the
discriminator step).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from .ramps import check_ramp, ramp_factor

# The steps of a training iteration a loss can belong to. CoordGAN (stage 1):
# 'discriminator' (main D losses, one update), 'regularizer' (lazy penalties
# on D, their own update), 'generator'. The encoder stage: 'encoder'.
PHASES = ('generator', 'discriminator', 'regularizer', 'encoder')


class StepOutputs(dict):
    """What one training step produced, for its losses to read.

    A dict whose keys are also attributes (``step.fake`` is ``step['fake']``).
    A missing one raises an error that names it and lists what the step has,
    so a loss placed in the wrong phase or model says what it lacks.
    Typical keys of CoordGAN's steps: ``iteration``, ``rng``, ``real``,
    ``fake`` and ``tex_swap`` (``GeneratorOutput``), ``struc_swap`` (images),
    ``grid`` (1, 2, G, G), ``discriminator``, ``patch_discriminator``,
    ``perceptual``, ``d_loss_weighting``.
    """

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f'this training step has no {key!r}; it has '
                f'{sorted(self)}') from None


class BaseLoss(nn.Module):
    """A loss with ``loss_weight`` and a warm-up ``ramp`` (see :func:`ramp_factor`).

    Subclasses set ``phases`` and implement :meth:`compute` (the unweighted
    value from a step's outputs); :meth:`weighted` is what a training step
    adds to its objective. ``forward`` keeps the plain tensor interface of
    each loss for direct use. The schedule of every loss is computed by the
    one function in ``ramps.py``.
    """

    phases: Tuple[str, ...] = ()

    def __init__(self, loss_weight: float = 1.0, ramp: Optional[dict] = None):
        super().__init__()
        check_ramp(ramp)
        unknown = set(self.phases) - set(PHASES)
        if unknown:
            raise ValueError(f'{type(self).__name__}.phases has '
                             f'{sorted(unknown)}; expected names from '
                             f'{PHASES}')
        self.loss_weight = float(loss_weight)
        self.ramp = None if ramp is None else dict(ramp)

    def check_model(self, model: nn.Module) -> None:
        """Raise at build time if ``model`` cannot give this loss what it reads (default: no check)."""

    def weight_at(self, iteration: int) -> float:
        """Weight at ``iteration``: ``loss_weight * ramp_factor(ramp, iteration)``."""
        return self.loss_weight * ramp_factor(self.ramp, iteration)

    def phase_weight(self, phase: str, step: StepOutputs) -> float:
        """The weight of this term in ``phase`` at the step's iteration."""
        return self.weight_at(int(step.iteration))

    def active(self, phase: str, step: StepOutputs) -> bool:
        """Whether the term is computed in this step at all (e.g. lazy regularisers)."""
        return True

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        """The unweighted scalar value of this term in ``phase``."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement compute(phase, step) to '
            f'take part in a training step')

    def weighted(self, phase: str, step: StepOutputs) -> torch.Tensor:
        """``phase_weight * compute``: the term as added to the step's objective."""
        return self.phase_weight(phase, step) * self.compute(phase, step)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, ramp={self.ramp}'
