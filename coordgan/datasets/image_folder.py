"""Every image below a folder, recursively: the unlabelled training sets (CelebA-HQ, cars, AFHQ)."""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.logging import print_log

from coordgan.registry import DATASETS
from .base import CoordGANBaseDataset, Problem
from .file_checks import BadFileError, read_image_header

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


@DATASETS.register_module()
class ImageFolderDataset(CoordGANBaseDataset):
    """Images found recursively under ``data_root`` (``data_prefix.img``), sorted by path.

    A missing folder or one without images is an error naming the folder
    and the extensions looked for. Every image's header is checked when the
    dataset is built (``on_bad_sample``, ``check_files``: see
    :class:`CoordGANBaseDataset`); an image that still fails to load later
    is an error naming it, or with ``on_bad_sample='skip'`` is logged and
    replaced by another random image.
    """

    def __init__(self,
                 data_root: str,
                 data_prefix: Optional[dict] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 pipeline: Sequence = (),
                 **kwargs):
        self.extensions = tuple(e.lower() for e in extensions)
        self.num_skipped_at_load = 0
        super().__init__(data_root=data_root,
                         data_prefix=data_prefix or dict(img=''),
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix['img']
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{type(self).__name__}: image folder {folder!r} does not '
                'exist (set data_root in the config or with --cfg-options '
                'train_dataloader.dataset.data_root=PATH; layouts are in '
                'docs/datasets.md)')
        paths = []
        for root, dirs, files in os.walk(folder, followlinks=True):
            dirs.sort()
            paths.extend(
                osp.join(root, f) for f in sorted(files)
                if f.lower().endswith(self.extensions))
        if not paths:
            raise FileNotFoundError(
                f'{type(self).__name__}: no images with extensions '
                f'{self.extensions} under {folder!r}')
        items = [dict(img_path=p, sample_idx=i) for i, p in enumerate(paths)]
        return self.screen(items, self._problems, osp.normpath(folder))

    def _problems(self, item: dict) -> List[Problem]:
        if not self.check_files:
            return []
        try:
            read_image_header(item['img_path'])
        except BadFileError as bad:
            return [(bad.path, bad.reason)]
        return []

    def prepare_data(self, idx: int):
        """The pipeline's output for item ``idx``; in 'skip' mode None (mmengine then draws another) for a file that fails to load."""
        try:
            return super().prepare_data(idx)
        except BadFileError as bad:
            if self.on_bad_sample != 'skip' or self.test_mode:
                raise
            self.num_skipped_at_load += 1
            print_log(
                f"{type(self).__name__}: on_bad_sample='skip': image "
                f'{idx} failed to load and is replaced by a random other '
                f'({self.num_skipped_at_load} so far in this process): '
                f'{bad}', logger='current', level=logging.WARNING)
            return None
