"""A labelled dataset split into references and queries for label propagation (REFERENCE.md section 9).

The wrapper's items are the *queries*, so the Runner's test dataloader,
samplers and distributed splitting work unchanged; the references are
fetched once by :class:`coordgan.engine.LabelPropagationTestLoop` through
:meth:`LabelPropagationDataset.get_references`.
"""
import copy
import logging
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log

from coordgan.registry import DATASETS

# The paper's splits. 'first5': the first 5 items are references, all others
# queries (CoordGAN's DatasetGAN and synthetic protocol). 'celeba': CoordGAN's
# CelebAMask-HQ references [1, 3, 5, 6, 8] and queries range(100, 200), in
# the order `tools/dataset_converters/celebamask_hq.py --indices coordgan`
# writes them.
SPLIT_PRESETS = {
    'first5': dict(references=5, queries=None),
    'celeba': dict(references=[1, 3, 5, 6, 8], queries=(100, 200)),
}

IndexSpec = Union[None, int, Sequence[int], Tuple[int, int]]


def resolve_split(num_items: int,
                  references: IndexSpec,
                  queries: IndexSpec = None) -> Tuple[List[int], List[int]]:
    """Split specs -> (reference indices, query indices) of a dataset of ``num_items``.

    ``references``: an int N (the first N items) or a list of indices.
    ``queries``: None (every item that is not a reference), a list of
    indices, or a ``(start, stop)`` pair meaning ``range(start, stop)``.
    """
    if isinstance(references, int) and not isinstance(references, bool):
        if not 0 < references < num_items:
            raise ValueError(
                f'split references={references}: need 0 < references < '
                f'{num_items} (the dataset size) to leave some queries')
        refs = list(range(references))
    else:
        refs = _index_list(references, 'references')
    if queries is None:
        taken = set(refs)
        query_list = [i for i in range(num_items) if i not in taken]
    elif (isinstance(queries, tuple) and len(queries) == 2
          and all(isinstance(v, int) for v in queries)):
        query_list = list(range(*queries))
    else:
        query_list = _index_list(queries, 'queries')
    for name, indices in (('references', refs), ('queries', query_list)):
        if not indices:
            raise ValueError(f'split {name} is empty')
        bad = [i for i in indices if not 0 <= i < num_items]
        if bad:
            raise ValueError(
                f'split {name} index {bad[0]} is outside the dataset '
                f'({num_items} items); is data_root the full converted set?')
        if len(set(indices)) != len(indices):
            raise ValueError(f'split {name} repeats indices: {indices}')
    both = sorted(set(refs) & set(query_list))
    if both:
        raise ValueError(f'split: items {both[:5]} are both references and '
                         'queries; a reference scored against itself '
                         'inflates the result')
    return refs, query_list


def _index_list(value, name: str) -> List[int]:
    if value is None or isinstance(value, (str, bytes)) or not isinstance(
            value, Sequence):
        raise TypeError(f'split {name} must be an int, a list of indices or '
                        f'(start, stop), got {value!r}')
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f'split {name} must hold integer indices, got '
                            f'{v!r} in {list(value)[:10]}')
        out.append(int(v))
    return out


@DATASETS.register_module()
class LabelPropagationDataset:
    """Queries of a labelled ``dataset``; :meth:`get_references` gives the references.

    Args:
        dataset (dict or Dataset): A labelled dataset whose packed items
            carry ``data_samples['gt_seg_map']`` (and ``gt_coords`` for the
            correspondence metric).
        split (str): A preset of :data:`SPLIT_PRESETS` (``'first5'``,
            ``'celeba'``); ``references``/``queries`` override it.
        references: int N (first N items) or a list of indices.
        queries: None (all other items), a list, or ``(start, stop)``.
        name (str, optional): The dataset's name in result tables
            (``metainfo['dataset_name']``); defaults to the wrapped class.
        lazy_init (bool): Defer building the split until :meth:`full_init`.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 split: str = 'first5',
                 references: IndexSpec = None,
                 queries: IndexSpec = None,
                 name: Optional[str] = None,
                 lazy_init: bool = False):
        if split not in SPLIT_PRESETS:
            raise ValueError(f'LabelPropagationDataset: unknown split '
                             f'{split!r}; presets are {sorted(SPLIT_PRESETS)}'
                             ' (or set references=/queries=)')
        preset = SPLIT_PRESETS[split]
        self.split = split
        self.name = name
        self._references = (preset['references']
                            if references is None else references)
        # Explicit references without queries: every other item is a query.
        if queries is None and references is None:
            queries = preset['queries']
        self._queries = queries
        self.dataset = (DATASETS.build(dataset)
                        if isinstance(dataset, dict) else dataset)
        self.reference_indices: List[int] = []
        self.query_indices: List[int] = []
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        meta = copy.deepcopy(dict(self.dataset.metainfo))
        meta['dataset_name'] = self.name or type(self.dataset).__name__
        return meta

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        skipped = getattr(self.dataset, 'num_skipped', 0)
        if skipped:
            print_log(
                f'{type(self).__name__}: {type(self.dataset).__name__} left '
                f"out {skipped} sample(s) (on_bad_sample='skip'); the split "
                'counts positions among the remaining items, so its '
                'references and queries are no longer the items the '
                f'{self.split!r} split was defined on', logger='current',
                level=logging.WARNING)
        self.reference_indices, self.query_indices = resolve_split(
            len(self.dataset), self._references, self._queries)
        self._fully_initialized = True

    def __len__(self) -> int:
        self.full_init()
        return len(self.query_indices)

    def _item(self, index: int) -> dict:
        item = self.dataset[index]
        samples = item.get('data_samples') if isinstance(item, dict) else None
        if not isinstance(samples, dict) or 'gt_seg_map' not in samples:
            raise KeyError(
                f'{type(self.dataset).__name__} item {index} has no '
                'data_samples["gt_seg_map"]; add it to PackImageInputs\' '
                "meta_keys, e.g. meta_keys=('img_path', 'gt_seg_map')")
        samples['dataset_index'] = index
        return item

    def __getitem__(self, idx: int) -> dict:
        self.full_init()
        return self._item(self.query_indices[idx])

    def get_references(self) -> List[dict]:
        """The packed reference items, in split order."""
        self.full_init()
        return [self._item(i) for i in self.reference_indices]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({type(self.dataset).__name__}, '
                f'split={self.split!r}, {len(self.reference_indices)} '
                f'references, {len(self.query_indices)} queries)')
