# coordgan_celeba.py with the TPS baseline warper instead of CoordGAN's MLP
# (REFERENCE.md 2): offsets of a 4x4 grid of control points from w_s, a
# thin-plate spline through them; starts at the identity.
# Train: bash tools/dist_train.sh configs/coordgan-tps_celeba.py 8
_base_ = ['./coordgan_celeba.py']

model = dict(
    generator=dict(
        warper=dict(
            _delete_=True, type='TPSWarper', hidden_channels=(512, ),
            control_grid=4)))
