# coordgan_synthetic.py with the TPS baseline warper instead of CoordGAN's MLP
# (REFERENCE.md 2): a head on w_s moves a 4x4 grid of control points and a
# thin-plate spline carries the canonical grid along; starts at the identity.
_base_ = ['./coordgan_synthetic.py']

model = dict(
    generator=dict(
        warper=dict(
            _delete_=True, type='TPSWarper', hidden_channels=(128, ),
            control_grid=4)))
