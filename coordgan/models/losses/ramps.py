"""Loss-weight warm-ups: every ramp of REFERENCE.md section 6 computed here, from an explicit iteration."""
from typing import Optional

RAMP_TYPES = ('linear', 'step')


def check_ramp(ramp: Optional[dict]) -> None:
    """Raise ValueError naming the key of a malformed ramp config."""
    if ramp is None:
        return
    kind = ramp.get('type')
    if kind not in RAMP_TYPES:
        raise ValueError(f'ramp type must be one of {RAMP_TYPES} (or the ramp '
                         f'None for a constant weight), got {kind!r}')
    if kind == 'linear':
        if ramp.get('length', 0) <= 0:
            raise ValueError(f"linear ramp needs length > 0, got {ramp!r}")
        if not 0 <= ramp.get('floor', 0.0) <= 1:
            raise ValueError(f'linear ramp floor must be in [0, 1], got {ramp!r}')
    elif 'start' not in ramp:
        raise ValueError(f"step ramp needs 'start', got {ramp!r}")


def ramp_factor(ramp: Optional[dict], iteration: int) -> float:
    """Multiplier in [0, 1] of a loss weight at ``iteration`` (0-based).

    * ``None``: 1 (constant weight).
    * ``dict(type='linear', length=L, floor=f)``: ``clip(iteration / L, f, 1)``;
      with ``floor=0.5, length=10000`` this is the reference code's GAN ramp
      (1/2 until 5k, then up to 1 at 10k).
    * ``dict(type='step', start=S)``: 0 before ``S``, 1 from ``S`` on.
    """
    if ramp is None:
        return 1.0
    if ramp['type'] == 'linear':
        return min(max(iteration / ramp['length'], ramp.get('floor', 0.0)), 1.0)
    if ramp['type'] == 'step':
        return float(iteration >= ramp['start'])
    raise ValueError(f'unknown ramp type {ramp["type"]!r}; expected one of '
                     f'{RAMP_TYPES}')
