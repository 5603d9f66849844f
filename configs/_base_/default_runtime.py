default_scope = 'coordgan'
# Checks the work_dir before training, saves checkpoints atomically and
# resumes from the newest complete one (docs/training.md, "Faults").
runner_type = 'CoordGANRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    # mmengine's CheckpointHook, but the new file is complete before the
    # outdated one is deleted and last_checkpoint is replaced in one step.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=10000, by_epoch=False,
        max_keep_ckpts=5, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # SIGTERM / SIGINT: checkpoint at the next iteration boundary, exit 0.
    preemption=dict(type='PreemptionHook'),
    # Updates with NaN / inf losses or gradients are skipped by the models;
    # this many bad iterations in a row stop the run (0: never).
    nonfinite=dict(type='NonFiniteLimitHook', max_consecutive=20),
    # CPU runs: warns when other processes compete for the cores the torch
    # threads need (2 threads on a busy 2-core machine ran 3-13x slower;
    # docs/benchmarks.md). adapt_threads=True also drops to the free cores,
    # at the cost of bit-for-bit reproducibility; off here.
    cpu_contention=dict(type='CPUContentionHook', first_check=20,
                        interval=500))
custom_hooks = [
    dict(type='SwapGridHook', interval=5000),
    # Warns if C^w stops varying between structure codes after the warm-ups.
    dict(type='StructureHealthHook', check_after=20000, interval=1000),
]

# Scalars (through the LoggerHook) and swap grids (SwapGridHook) go to every
# vis backend here. LocalVisBackend writes <work_dir>/<timestamp>/vis_data/;
# for TensorBoard (pip install tensorboard) add
# dict(type='TensorboardVisBackend') to the list (docs/visualization.md).
visualizer = dict(
    type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
# Every trained network gets its own DDP wrapper, so the gradients of G, D and
# the patch D are all all-reduced (the reference never synced its patch D).
# The scope prefix is needed: mmengine looks wrappers up without switching scope.
model_wrapper_cfg = dict(
    type='coordgan.SeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=2022, deterministic=False)
