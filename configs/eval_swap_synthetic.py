# Swap LPIPS of the README's synthetic stage-1 model, on the CPU in seconds:
#   python tools/test.py configs/eval_swap_synthetic.py \
#       work_dirs/coordgan_synthetic/iter_2000.pth
# 64 pairs. Without the ImageNet VGG file LPIPS runs on the seeded random
# VGG (the log says so): values rank models trained here, they are not
# comparable with published LPIPS. No FID: the synthetic data has no image
# folder (add an FIDMetric as in configs/eval_swap_celeba.py to score one).
_base_ = ['./coordgan_synthetic.py', './_base_/generation_eval.py']

num_pairs = 64
test_dataloader = dict(dataset=dict(num_samples=num_pairs))
# Test only: the stage-1 config's training parts are dropped.
train_dataloader = None
train_cfg = None
optim_wrapper = None
custom_hooks = []
test_evaluator = [
    dict(type='SwapLPIPSMetric',
         lpips=dict(type='LPIPS', net='vgg', allow_random_backbone=True)),
]
