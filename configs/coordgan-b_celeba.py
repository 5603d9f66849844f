# CoordGAN-B (paper, appendix E; REFERENCE.md section 2): a backward MLP maps
# C^w (+ w_s) back to canonical coordinates, trained with an L1 cycle loss to
# the canonical grid. The paper gives no weight for it: 1.0, a config value.
_base_ = ['./coordgan_celeba.py']

model = dict(
    generator=dict(
        backward_warper=dict(type='MLPWarper', hidden_channels=(512, 512))),
    losses=dict(cycle=dict(type='CycleLoss', loss_weight=1.0)))
