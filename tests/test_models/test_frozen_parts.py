"""The frozen LPIPS net stays out of both training models' checkpoints, and older checkpoints that hold it still load."""
import pytest
import torch
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

from coordgan.registry import MODELS
from helpers import inversion_cfg, snapshot, tiny_model_cfg

BUILDERS = {'stage 1': tiny_model_cfg, 'encoder stage': inversion_cfg}


def _perturbed(cfg):
    """A model of ``cfg`` whose trained weights differ from a fresh build's."""
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith('perceptual.'):
                p.add_(0.5)
    return model


@pytest.mark.parametrize('stage', list(BUILDERS))
def test_checkpoints_hold_everything_but_lpips_and_load_strictly(
        stage, tmp_path):
    cfg = BUILDERS[stage]()
    model = _perturbed(cfg)
    lpips_keys = set(model.perceptual.state_dict())
    assert lpips_keys  # the tiny LPIPS has weights to leave out
    state = model.state_dict()
    assert not [k for k in state if k.startswith('perceptual.')]
    # Every other parameter is saved (the EMA's under its flat names).
    trained = {k.replace('generator_ema.module.', 'generator_ema.')
               for k, _ in model.named_parameters()
               if not k.startswith('perceptual.')}
    assert trained <= set(state)

    path = tmp_path / 'iter_1.pth'
    save_checkpoint(dict(state_dict=state, meta=dict(iter=1)), str(path))
    torch.manual_seed(1)  # another seed: the trained parts must come from the file
    fresh = MODELS.build(cfg)
    lpips_before = snapshot(fresh.perceptual)
    load_checkpoint(fresh, str(path), map_location='cpu', strict=True)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key
    for key, value in fresh.perceptual.state_dict().items():
        assert torch.equal(value, lpips_before[key]), key


@pytest.mark.parametrize('stage', list(BUILDERS))
def test_lpips_entries_of_older_checkpoints_are_ignored(stage):
    cfg = BUILDERS[stage]()
    model = _perturbed(cfg)
    old = dict(model.state_dict())
    # An older checkpoint saved the net; values that differ from the built
    # net's show whether they are read.
    for key, value in model.perceptual.state_dict().items():
        old['perceptual.' + key] = torch.full_like(value, 3.0)
    fresh = MODELS.build(cfg)
    lpips_before = snapshot(fresh.perceptual)
    result = fresh.load_state_dict(old, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in fresh.perceptual.state_dict().items():
        assert torch.equal(value, lpips_before[key]), key
    sample = next(k for k in model.state_dict()
                  if not k.startswith('perceptual.')
                  and model.state_dict()[k].is_floating_point())
    assert torch.equal(fresh.state_dict()[sample], old[sample])
