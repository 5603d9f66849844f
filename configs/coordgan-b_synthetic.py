# CoordGAN-B on the embedded synthetic data, for the warper comparison of
# docs/variants.md: the README's main job plus the backward MLP and its L1
# cycle loss (weight 1.0; the paper gives none).
_base_ = ['./coordgan_synthetic.py']

model = dict(
    generator=dict(
        backward_warper=dict(type='MLPWarper', hidden_channels=(128, 128))),
    losses=dict(cycle=dict(type='CycleLoss', loss_weight=1.0)))
