# Ablation: no texture-swap loss (paper Table 4, "w/o texture swap");
# everything else as the reference.
_base_ = ['./coordgan_celeba.py']

model = dict(losses=dict(texture_swap=None))
