# Runtime of the label-propagation benchmark (tools/test.py CONFIG [CKPT]):
# the Runner's test loop with the references described once, and pictures
# through mmengine's Visualizer (`--show-dir DIR` switches the hook on).
default_scope = 'coordgan'

test_cfg = dict(type='LabelPropagationTestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10))
custom_hooks = [
    dict(type='PropagationVisualizationHook', draw=False, max_queries=8,
         panel_size=256)
]
visualizer = dict(
    type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
# Frozen networks: mmengine's separate wrapper leaves them unwrapped, so
# `--launcher pytorch` only splits the queries (also on CPUs with gloo).
model_wrapper_cfg = dict(type='coordgan.SeparateDistributedDataParallel')
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=2022, deterministic=False)
