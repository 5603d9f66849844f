# coordgan_synthetic.py with the STN baseline warper instead of CoordGAN's MLP
# (REFERENCE.md 2): a head on w_s predicts one affine map of the canonical
# grid per sample ('similarity' or 'translation' restrict it); starts at the
# identity.
_base_ = ['./coordgan_synthetic.py']

model = dict(
    generator=dict(
        warper=dict(
            _delete_=True, type='STNWarper', hidden_channels=(128, ),
            mode='affine')))
