"""Draws label propagation of the first queries of a test run (``tools/test.py --show-dir DIR``)."""
import os.path as osp
from typing import Optional

import cv2
import mmengine
import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from coordgan.models.algorithms.common import unwrap
from coordgan.models.algorithms.label_propagation import images_to_unit_range
from coordgan.registry import HOOKS
from coordgan.visualization import (propagation_caption, propagation_figure,
                                    resolve_palette)

CAPTION_FILE = 'captions.txt'


@HOOKS.register_module()
class PropagationVisualizationHook(Hook):
    """Per query: a figure of every reference, the masks and the propagated mask.

    Figures (see :func:`coordgan.visualization.propagation_figure`) go to
    ``runner.visualizer.add_image('propagation_query_<dataset index>')``
    (so every vis backend, local files or TensorBoard, receives them) and,
    when ``out_dir`` is set, to ``<out_dir>/query_<dataset index>.png``
    with ``<out_dir>/captions.txt`` saying what rows and columns mean.

    Args:
        draw (bool): Off by default: drawing costs time in a benchmark run.
        max_queries (int): Queries drawn in the whole run, counted across
            batches, on rank 0 only.
        panel_size (int): Minimum side of a panel in pixels.
        out_dir (str, optional): Folder of the PNG files.
    """

    priority = 'LOW'

    def __init__(self,
                 draw: bool = False,
                 max_queries: int = 8,
                 panel_size: int = 256,
                 out_dir: Optional[str] = None):
        if max_queries < 0:
            raise ValueError(f'PropagationVisualizationHook max_queries must '
                             f'be >= 0, got {max_queries}')
        if panel_size < 1:
            raise ValueError(f'PropagationVisualizationHook panel_size must '
                             f'be >= 1, got {panel_size}')
        self.draw = draw
        self.max_queries = max_queries
        self.panel_size = panel_size
        self.out_dir = out_dir
        self._drawn = 0
        self._caption_written = False

    def before_test(self, runner) -> None:
        # A second test run with the same hook draws its own first queries.
        self._drawn = 0
        self._caption_written = False

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        if (not self.draw or self._drawn >= self.max_queries
                or not outputs or not is_main_process()):
            return
        model = unwrap(runner.model)
        references = getattr(model, 'references', None)
        if references is None:
            raise RuntimeError('PropagationVisualizationHook: the model has '
                               'no references (LabelPropagationModel.'
                               'set_references was not called)')
        meta = self._dataset_meta(runner)
        classes = meta.get('classes')
        palette = meta.get('palette')
        if classes:
            # Resolved once for all figures and the caption, so they agree.
            palette = resolve_palette(palette, len(classes))
        ref_desc = references['descriptors']
        ref_desc = ref_desc.cpu() if ref_desc.shape[1] == 2 else None
        bgr = getattr(model.data_preprocessor, 'bgr_to_rgb', True)
        for i, sample in enumerate(outputs):
            if self._drawn >= self.max_queries:
                break
            index = sample.get('dataset_index', sample.get('sample_idx'))
            index = self._drawn if index is None else int(index)
            query = images_to_unit_range([data_batch['inputs'][i]],
                                         model.size, bgr)[0]
            query_desc = sample.get('pred_descriptor')
            figure = propagation_figure(
                references['images'].cpu(), references['seg'].cpu(), query,
                sample['gt_seg_map'], sample['pred_seg_maps'], palette,
                ref_desc, query_desc, panel_size=self.panel_size)
            if self.out_dir is not None:
                self._write(figure, index, propagation_caption(
                    ref_desc is not None and query_desc is not None,
                    references.get('indices'), classes, palette))
            # '/' in the name would make LocalVisBackend write into a
            # folder it never creates (cv2.imwrite fails silently).
            runner.visualizer.add_image(f'propagation_query_{index}', figure,
                                        step=0)
            self._drawn += 1
            if self._drawn == 1:
                print_log(self._where(runner), logger='current')

    def _write(self, figure: np.ndarray, index: int, caption: str) -> None:
        mmengine.mkdir_or_exist(self.out_dir)
        path = osp.join(self.out_dir, f'query_{index}.png')
        if not cv2.imwrite(path, np.ascontiguousarray(figure[..., ::-1])):
            raise OSError(f'PropagationVisualizationHook: could not write '
                          f'{path}')
        if not self._caption_written:
            with open(osp.join(self.out_dir, CAPTION_FILE), 'w') as f:
                f.write(caption)
            self._caption_written = True

    def _where(self, runner) -> str:
        local = osp.join(str(getattr(runner, 'log_dir', '<log_dir>')),
                         'vis_data', 'vis_image')
        places = ["runner.visualizer's vis backends (name "
                  "'propagation_query_<dataset index>'; LocalVisBackend: "
                  f'{local})']
        if self.out_dir is not None:
            places.insert(0, f'{self.out_dir}/query_<dataset index>.png '
                          f'(rows and columns: {CAPTION_FILE})')
        return (f'propagation pictures of up to {self.max_queries} queries: '
                + ' and '.join(places))

    @staticmethod
    def _dataset_meta(runner) -> dict:
        """``classes``/``palette`` of the test set: the visualizer's, else the test dataset's."""
        meta = getattr(runner.visualizer, 'dataset_meta', None)
        if meta:
            return dict(meta)
        loader = getattr(runner, 'test_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        return dict(getattr(dataset, 'metainfo', None) or {})
