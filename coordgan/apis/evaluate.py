"""Running a test config through mmengine's Runner and turning its metrics into a result record."""
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner

from coordgan.evaluation.arcface import check_arcface_weights
from coordgan.evaluation.inception import check_inception_weights
from coordgan.evaluation.report import make_record
from coordgan.models.algorithms.common import unwrap
from coordgan.models.losses.perceptual import LPIPS
from coordgan.registry import init_default_scope
from coordgan.utils.config_check import validate_config
from .train import build_runner

VIS_HOOK = 'PropagationVisualizationHook'


def prepare_test_config(cfg: Config,
                        config_path: str,
                        checkpoint: Optional[str] = None,
                        work_dir: Optional[str] = None,
                        show_dir: Optional[str] = None) -> Config:
    """Check ``cfg`` is a test config; set work_dir, ``load_from`` and the picture hook."""
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    missing = [k for k in ('test_dataloader', 'test_evaluator', 'test_cfg')
               if cfg.get(k) is None]
    if missing:
        raise ValueError(
            f'{config_path} has no {", ".join(missing)}: it is not a test '
            'config. Label propagation configs are in configs/labelprop/ '
            '(e.g. configs/labelprop/coordgan_synthetic.py)')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config_path))[0])
    if checkpoint:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} does not '
                                    'exist')
        cfg.load_from = checkpoint
    if show_dir:
        hooks = list(cfg.get('custom_hooks') or [])
        for hook in hooks:
            if hook.get('type') == VIS_HOOK:
                hook.update(draw=True, out_dir=show_dir)
                break
        else:
            hooks.append(dict(type=VIS_HOOK, draw=True, out_dir=show_dir))
        cfg.custom_hooks = hooks
    check_metric_weights(cfg.test_evaluator)
    # Config typos and a checkpoint of the wrong stage, model or size fail
    # here, before the Runner builds anything.
    validate_config(cfg, mode='test')
    return cfg


def check_metric_weights(evaluator) -> None:
    """Raise FileNotFoundError naming the file if a generation metric's weights are missing."""
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [
        evaluator]
    for metric in metrics:
        if metric.get('type') == 'FIDMetric':
            check_inception_weights(metric.get('inception_weights'))
        elif metric.get('type') == 'ArcFaceIdentityMetric':
            check_arcface_weights(metric.get('arcface_weights'))
        elif metric.get('type') == 'SwapLPIPSMetric':
            LPIPS.preflight(dict(metric.get('lpips') or {}))


def result_record(runner: Runner, metrics: dict, **extra) -> dict:
    """The record tools/test.py prints and writes: method, dataset, split and metrics."""
    dataset = runner.test_dataloader.dataset
    meta = dataset.metainfo
    return make_record(
        metrics, unwrap(runner.model).extractor.display_name,
        meta.get('dataset_name', type(dataset).__name__),
        references=list(getattr(dataset, 'reference_indices', [])),
        num_queries=len(dataset), **extra)


def run_test(config_path: str,
             checkpoint: Optional[str] = None,
             work_dir: Optional[str] = None,
             show_dir: Optional[str] = None,
             cfg_options: Optional[dict] = None) -> dict:
    """Evaluate one test config with ``runner.test()``; return its record."""
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg = prepare_test_config(cfg, config_path, checkpoint, work_dir,
                              show_dir)
    runner = build_runner(cfg)
    metrics = runner.test()
    if cfg.test_cfg.get('type') == 'GenerationTestLoop':
        return dict(config=config_path, checkpoint=checkpoint,
                    metrics=dict(metrics))
    return result_record(runner, metrics, config=config_path,
                       checkpoint=checkpoint)
