# coordgan_celeba.py with the STN baseline warper instead of CoordGAN's MLP
# (REFERENCE.md 2): one affine map of the canonical grid per sample, predicted
# from w_s; starts at the identity.
# Train: bash tools/dist_train.sh configs/coordgan-stn_celeba.py 8
_base_ = ['./coordgan_celeba.py']

model = dict(
    generator=dict(
        warper=dict(
            _delete_=True, type='STNWarper', hidden_channels=(512, ),
            mode='affine')))
