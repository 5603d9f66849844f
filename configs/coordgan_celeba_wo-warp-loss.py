# Ablation: no warp loss (paper Table 4, "w/o warp loss"); everything else
# as the reference.
_base_ = ['./coordgan_celeba.py']

model = dict(losses=dict(warp=None))
