"""Every image below a folder, recursively: the unlabelled training sets (CelebA-HQ, cars, AFHQ)."""
import os
import os.path as osp
from typing import List, Optional, Sequence


from coordgan.registry import DATASETS
from .base import CoordGANBaseDataset

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


@DATASETS.register_module()
class ImageFolderDataset(CoordGANBaseDataset):
    """Images found recursively under ``data_root`` (``data_prefix.img``), sorted by path.

    A missing folder or one without images is an error naming the folder
    and the extensions looked for.
    """

    def __init__(self,
                 data_root: str,
                 data_prefix: Optional[dict] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 pipeline: Sequence = (),
                 **kwargs):
        self.extensions = tuple(e.lower() for e in extensions)
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
        return [dict(img_path=p, sample_idx=i) for i, p in enumerate(paths)]
