"""What every coordgan dataset shares: the pipeline's registry scope and the start-up file check."""
import logging
import sys
import time
from typing import Callable, List, Tuple

from mmengine.dataset import BaseDataset
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar

from coordgan.registry import SCOPE
from .file_checks import BadSampleError

ON_BAD_SAMPLE = ('error', 'skip')
# Problems listed in the 'error' message; 'skip' logs every one.
MAX_LISTED = 20
# A check of more samples than this shows a progress bar.
PROGRESS_MIN_FILES = 1000

Problem = Tuple[str, str]  # (path, reason)


class CoordGANBaseDataset(BaseDataset):
    """A ``BaseDataset`` whose pipeline resolves transform names in the coordgan scope.

    mmengine builds pipelines from its root registry under the current
    default scope; outside a Runner (scripts, notebooks) there is none, and
    ``PackImageInputs`` would not be found.

    Datasets read from files check every sample when they are built (the
    Runner builds them before the first iteration) through :meth:`screen`.

    Args:
        on_bad_sample (str): What the start-up file check does with samples
            whose files fail it: ``'error'`` (default) raises one
            :class:`BadSampleError` listing up to 20 of them with reasons and
            the count; ``'skip'`` leaves them out and logs each one, with
            its reason, as a warning.
        check_files (bool): Read every file's header before use
            (docs/datasets.md says what is checked). Switching it off leaves
            only the checks that need no reading (e.g. a missing mask).
    """

    def __init__(self,
                 *args,
                 on_bad_sample: str = 'error',
                 check_files: bool = True,
                 **kwargs):
        if on_bad_sample not in ON_BAD_SAMPLE:
            raise ValueError(
                f'{type(self).__name__}: on_bad_sample must be one of '
                f'{ON_BAD_SAMPLE}, got {on_bad_sample!r}')
        self.on_bad_sample = on_bad_sample
        self.check_files = bool(check_files)
        # Filled by screen() in 'skip' mode: every problem of the samples
        # left out, and how many samples that is.
        self.bad_samples: List[Problem] = []
        self.num_skipped = 0
        with DefaultScope.overwrite_default_scope(SCOPE):
            super().__init__(*args, **kwargs)

    def screen(self, items: List[dict],
               problems_of: Callable[[dict], List[Problem]],
               where: str) -> List[dict]:
        """The ``items`` whose ``problems_of`` is empty, as ``on_bad_sample`` decides; a progress bar above 1000.

        ``problems_of(item)`` gives (path, reason) pairs; it reads files only
        when ``self.check_files``. Kept items are renumbered
        (``sample_idx``).
        """
        name = type(self).__name__
        bar = None
        if (self.check_files and len(items) > PROGRESS_MIN_FILES
                and is_main_process()):
            print_log(f'{name}: checking the files of {len(items)} samples '
                      f'in {where}', logger='current')
            bar = ProgressBar(len(items), file=sys.stdout)
        start = time.perf_counter()
        step = max(1, len(items) // 100)  # at most 100 redraws in a log
        kept, bad = [], []
        for i, item in enumerate(items):
            found = problems_of(item)
            if found:
                bad.append(found)
            else:
                kept.append(item)
            done = i + 1
            if bar is not None and (done % step == 0 or done == len(items)):
                bar.update(done - bar.completed)
        if bar is not None:
            sys.stdout.write('\n')
            print_log(f'{name}: checked {len(items)} samples in '
                      f'{time.perf_counter() - start:.1f} s, {len(bad)} '
                      'failed', logger='current')
        if not bad:
            return items
        problems = [p for found in bad for p in found]
        header = (f'{name}: {len(bad)} of {len(items)} samples in {where} '
                  'failed the start-up file check')
        if self.on_bad_sample == 'error' or not kept:
            lines = [f'  {path}: {reason}'
                     for path, reason in problems[:MAX_LISTED]]
            if len(problems) > MAX_LISTED:
                lines.append(f'  ... and {len(problems) - MAX_LISTED} more')
            if kept:
                advice = ('Fix these files (or remove their samples), or '
                          "set on_bad_sample='skip' in the dataset config "
                          'to leave such samples out (each is logged)')
            else:
                advice = ('Fix these files; no sample passed, so '
                          "on_bad_sample='skip' leaves none to use")
            raise BadSampleError(
                f'{header}:\n' + '\n'.join(lines) + f'\n{advice}; '
                'docs/datasets.md lists what is checked.', problems)
        self.bad_samples = problems
        self.num_skipped = len(bad)
        print_log(
            f"{header}; on_bad_sample='skip' leaves them out and uses the "
            f'other {len(kept)}:\n' + '\n'.join(
                f'  {path}: {reason}' for path, reason in problems),
            logger='current', level=logging.WARNING)
        for i, item in enumerate(kept):
            item['sample_idx'] = i
        return kept
