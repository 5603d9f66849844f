"""Optimizer updates that skip NaN / infinite losses and gradients instead of applying them."""
import logging
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log

# Parameter names shown in a warning before "... and N more".
MAX_NAMES = 5


def nonfinite_terms(terms: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the entries of ``terms`` that hold a NaN or an infinity (one device sync)."""
    if not terms:
        return []
    names = list(terms)
    finite = torch.stack([torch.isfinite(terms[n].detach()).all()
                          for n in names]).tolist()
    return [n for n, ok in zip(names, finite) if not ok]


def all_ranks_agree_finite(finite: bool, device: torch.device) -> bool:
    """False if any rank saw a non-finite value, so every rank skips the same updates.

    A rank that skipped its backward while the others ran theirs would
    leave DDP's gradient all-reduce waiting forever.
    """
    if get_world_size() == 1:
        return finite
    bad = torch.tensor([0.0 if finite else 1.0], device=device)
    all_reduce(bad, op='sum')
    return bool(bad.item() == 0)


class GradientCheck:
    """While active, an optimizer step with a non-finite gradient changes nothing.

    A step pre-hook on the wrapper's optimizer looks at every gradient
    before ``optimizer.step``; if one is NaN or infinite it drops all of
    them (``grad = None``), so the step leaves weights and optimizer state
    untouched, and remembers the parameters. It runs inside
    ``OptimWrapper.update_params``, after gradient clipping and, with
    ``AmpOptimWrapper``, after the loss scaler's own overflow check (which
    skips such steps itself). With DDP the gradients are already averaged,
    so every rank decides alike.
    """

    def __init__(self, optim_wrapper):
        self.optimizer = optim_wrapper.optimizer
        self.bad_params: List[nn.Parameter] = []
        self._handle = None

    def _pre_step(self, optimizer, args, kwargs) -> None:
        params = [p for group in optimizer.param_groups
                  for p in group['params'] if p.grad is not None]
        if not params:
            return
        finite = torch.stack([torch.isfinite(p.grad).all()
                              for p in params]).tolist()
        if all(finite):
            return
        self.bad_params = [p for p, ok in zip(params, finite) if not ok]
        for p in params:
            p.grad = None

    def __enter__(self) -> 'GradientCheck':
        self._handle = self.optimizer.register_step_pre_hook(self._pre_step)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


def guarded_update(optim_wrapper, loss: torch.Tensor,
                   terms: Dict[str, torch.Tensor],
                   model: nn.Module) -> Optional[str]:
    """``optim_wrapper.update_params(loss)`` unless a loss term or a gradient is non-finite.

    ``loss`` is the sum of ``terms`` (what the step backpropagates). Returns
    None after a normal update; otherwise the update was skipped (no
    backward or no optimizer step, gradients zeroed) and the returned text
    names what was non-finite: the loss terms with their values, or the
    parameters of ``model`` whose gradients were.
    """
    bad = nonfinite_terms(dict(terms, loss=loss))
    if not all_ranks_agree_finite(not bad, loss.device):
        optim_wrapper.zero_grad()
        if not bad:
            return 'a non-finite loss on another rank'
        values = ', '.join(f'{n}={float(terms[n].detach().mean()):g}'
                           for n in bad if n in terms)
        return f'non-finite loss {values or f"sum={float(loss):g}"}'
    with GradientCheck(optim_wrapper) as check:
        optim_wrapper.update_params(loss)
    if not check.bad_params:
        return None
    optim_wrapper.zero_grad()
    ids = {id(p) for p in check.bad_params}
    names = [n for n, p in model.named_parameters() if id(p) in ids]
    more = len(names) - MAX_NAMES
    shown = ', '.join(names[:MAX_NAMES]) + (f' and {more} more'
                                            if more > 0 else '')
    return f'non-finite gradients of {shown} (losses finite)'


class SkipNonFiniteMixin:
    """Training steps that sum their losses and update through :func:`guarded_update`.

    Mixed into a training model (before ``BaseModel`` in the bases).
    ``train_step`` calls :meth:`start_iteration`, each step calls
    :meth:`update_or_skip`; skipped updates are warned about (naming the
    step, the iteration and what was non-finite), listed in
    ``skipped_updates`` and counted by :meth:`skip_log` as
    ``skipped_nonfinite``, which
    :class:`coordgan.engine.NonFiniteLimitHook` turns into the run's total
    and uses to stop a run that keeps failing.
    """

    skipped_updates: Tuple[Tuple[str, str], ...] = ()
    last_nonfinite: Optional[str] = None

    def start_iteration(self) -> None:
        self.skipped_updates = ()

    def update_or_skip(self, step: str, iteration: int, optim_wrapper,
               losses: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Sum ``losses``, backpropagate and step (or skip); the step's log (non-finite values left out)."""
        loss, log = self.parse_losses(losses)
        problem = guarded_update(optim_wrapper, loss, losses, self)
        if problem is None:
            return log
        self.skipped_updates = (*self.skipped_updates, (step, problem))
        self.last_nonfinite = (f'iteration {iteration + 1}, {step} step: '
                               f'{problem}')
        print_log(f'Skipped the {step} update of iteration {iteration + 1}: '
                  f'{problem}. No optimizer step was taken and the '
                  'gradients were zeroed.', logger='current',
                  level=logging.WARNING)
        keep = nonfinite_terms(log)
        return {k: v for k, v in log.items() if k not in keep}

    def skipped(self, step: str) -> bool:
        """Whether this iteration's ``step`` update was skipped."""
        return any(s == step for s, _ in self.skipped_updates)

    def skip_log(self, device: torch.device) -> Dict[str, torch.Tensor]:
        """``skipped_nonfinite``: the updates skipped in this iteration."""
        return {'skipped_nonfinite': torch.tensor(
            float(len(self.skipped_updates)), device=device)}
