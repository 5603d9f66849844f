"""A training model's own random stream, saved in its checkpoints."""
from typing import Optional

import torch
from mmengine.dist import broadcast_object_list, get_rank


class RandomStreamMixin:
    """Per-iteration generators derived from one stream whose state is in the state dict.

    Mixed into an ``nn.Module`` (before it in the bases). Codes, noise and
    crops drawn from :meth:`step_generator` make a resumed run continue the
    exact random sequence, whatever the number of ranks.
    """

    _rng: Optional[torch.Generator] = None

    def _shared_rng(self) -> torch.Generator:
        """The run's random stream: same state on every rank, saved in checkpoints."""
        if self._rng is None:
            seed = [int(torch.randint(2**62, (1, )))]
            broadcast_object_list(seed)  # identical on every rank
            self._rng = torch.Generator().manual_seed(seed[0])
        return self._rng

    def step_generator(self, device: torch.device) -> torch.Generator:
        """A generator for one iteration's codes, noise and crops, distinct per rank.

        One draw from the shared stream per iteration (plus the rank) seeds
        it, so the stream's state alone (a rank-independent checkpoint entry)
        makes a resumed run continue exactly, whatever the number of ranks.
        """
        seed = int(torch.randint(2**62, (1, ), generator=self._shared_rng()))
        return torch.Generator(device=device).manual_seed(
            (seed + 1_000_003 * get_rank()) % 2**63)

    def get_extra_state(self) -> torch.Tensor:
        # A tensor (empty before the first step): mmengine broadcasts every
        # state-dict entry when it initialises weights.
        if self._rng is None:
            return torch.zeros(0, dtype=torch.uint8)
        return self._rng.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        if state.numel():
            self._rng = torch.Generator()
            self._rng.set_state(state.cpu())
