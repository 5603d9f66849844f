# Ablation: no structure-swap loss (paper Table 4, "w/o structure swap"):
# the patch co-occurrence D's loss and its R1 penalty are off (the patch D is
# still built, so checkpoints keep their keys, but never trained).
_base_ = ['./coordgan_celeba.py']

model = dict(losses=dict(structure_swap=None, patch_r1=None))
