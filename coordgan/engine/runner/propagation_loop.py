"""The test loop of the label-propagation benchmark: references first, then the queries."""
import logging
import time
from typing import Dict

import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.runner import TestLoop

from coordgan.models.algorithms.common import unwrap
from coordgan.registry import LOOPS


@LOOPS.register_module()
class LabelPropagationTestLoop(TestLoop):
    """``TestLoop`` that first describes the dataset's references.

    The test dataset must be a :class:`coordgan.datasets.LabelPropagationDataset`
    (its items are the queries, split across ranks by the sampler); the
    model must have ``set_references`` (:class:`LabelPropagationModel`).
    The log reports the propagation speed in query images per second.
    """

    def run(self) -> Dict[str, float]:
        runner = self.runner
        runner.call_hook('before_test')
        runner.call_hook('before_test_epoch')
        runner.model.eval()
        model = unwrap(runner.model)
        dataset = self.dataloader.dataset
        for need, owner, what in (
                ('get_references', dataset, 'test_dataloader.dataset must be '
                 'a LabelPropagationDataset (a labelled dataset + split)'),
                ('set_references', model, 'model must be a '
                 'LabelPropagationModel')):
            if not hasattr(owner, need):
                raise TypeError(f'LabelPropagationTestLoop: {what}; got '
                                f'{type(owner).__name__}')
        check_weights(model.extractor)

        start = time.perf_counter()
        model.set_references(pseudo_collate(dataset.get_references()),
                             dataset.metainfo)
        ref_seconds = time.perf_counter() - start
        self.test_loss.clear()
        num_queries = 0
        start = time.perf_counter()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
            num_queries += len(data_batch['inputs'])
        seconds = time.perf_counter() - start
        metrics = self.evaluator.evaluate(len(dataset))
        rate = self._speed(num_queries, seconds)
        num_refs = len(model.references['indices'])
        print_log(
            f'label propagation: {model.extractor.display_name}, '
            f'{num_refs} references x {len(dataset)} queries; references '
            f'described in {ref_seconds:.2f} s; {rate:.2f} query images/s '
            f'(describe + propagate to all references, all ranks)',
            logger='current')
        metrics['speed/query_images_per_s'] = rate
        runner.call_hook('after_test_epoch', metrics=metrics)
        runner.call_hook('after_test')
        return metrics

    @staticmethod
    def _speed(num_queries: int, seconds: float) -> float:
        """Query images per second over all ranks (the slowest rank sets the time)."""
        stats = torch.tensor([float(num_queries), seconds], dtype=torch.float64)
        if get_world_size() > 1:
            total = stats.clone()
            all_reduce(total, op='sum')
            longest = stats[1:].clone()
            all_reduce(longest, op='max')
            stats = torch.stack([total[0], longest[0]])
        return float(stats[0] / max(float(stats[1]), 1e-9))


def check_weights(extractor) -> None:
    """Refuse to score an extractor that needs trained weights and has none."""
    if not getattr(extractor, 'requires_checkpoint', False):
        return
    if getattr(extractor, 'weights_loaded', False):
        return
    if getattr(extractor, 'random_weights', False):
        print_log(f'{extractor.display_name}: evaluating random weights '
                  '(random_weights=True)', logger='current',
                  level=logging.WARNING)
        return
    raise RuntimeError(
        f'{type(extractor).__name__} has no trained weights: pass a '
        'checkpoint (tools/test.py CONFIG CHECKPOINT, load_from=..., or the '
        "extractor's checkpoint=...), or set random_weights=True to score "
        'random weights on purpose')
