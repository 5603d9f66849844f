"""mmengine's Runner with checkpoints that survive faults and a work_dir checked before training."""
import os
import os.path as osp
import shutil
import signal
import threading
from functools import partial
from typing import Optional

import torch
from mmengine.dist import broadcast_object_list, is_main_process, master_only
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.runner import Runner

from coordgan.models.algorithms.common import unwrap
from coordgan.registry import RUNNERS
from .checkpoint_files import (CheckpointSaveError, DamagedCheckpointError,
                               WorkDirError, check_work_dir,
                               checkpoint_problem, commit,
                               newest_complete_checkpoint, read_pointer,
                               remove_quietly, remove_stale_temp_files,
                               temp_path)

# Runner.train() calls this hook method when it ends, also by an exception
# (mmengine has no such event; hooks that change process state use it).
TRAIN_EXIT_EVENT = 'after_train_exit'


@RUNNERS.register_module()
class CoordGANRunner(Runner):
    """:class:`mmengine.runner.Runner` that does not lose work to faults.

    Selected by ``runner_type = 'CoordGANRunner'`` (the default runtime);
    everything else is mmengine's. What it adds:

    * the work_dir is created and written to (a small probe file) before
      anything is built, and training checks that one checkpoint fits in
      its free space: a read-only folder or a full disk fails at once with
      the folder's name;
    * :meth:`save_checkpoint` is atomic on local disks: a temporary file in
      the same folder, flushed and fsynced, renamed over the final name, the
      rename fsynced. A failed or killed save leaves no partial file and
      keeps every older checkpoint;
    * ``resume=True`` without a path (``--resume``) starts from the newest
      *complete* checkpoint of the work_dir, logs which, and skips damaged
      ones with a warning naming them; a damaged checkpoint given as
      ``--resume PATH`` is an error naming it;
    * DataLoader workers ignore SIGINT, and SIGTERM unless their main
      process sends it: a terminal or a cluster scheduler signals the whole
      process group, and the main process decides (see
      :class:`PreemptionHook`) and ends the workers itself.
    """

    def __init__(self, model, work_dir: str, *args, **kwargs):
        check_work_dir(work_dir)
        super().__init__(model, work_dir, *args, **kwargs)

    # ----------------------------------------------------------- training
    def train(self) -> torch.nn.Module:
        self.check_free_space()
        self.remove_leftovers()
        try:
            return super().train()
        finally:
            self.call_hook(TRAIN_EXIT_EVENT)

    def check_free_space(self) -> None:
        """Raise unless the work_dir's disk can hold one more checkpoint (estimated from the model)."""
        if not is_main_process():
            return
        needed = estimated_checkpoint_bytes(unwrap(self.model))
        free = shutil.disk_usage(self.work_dir).free
        if free < needed:
            raise WorkDirError(
                f'work_dir {self.work_dir} has {free / 2**20:.1f} MiB free, '
                f'but one checkpoint of this model needs about '
                f'{needed / 2**20:.1f} MiB (weights and optimizer state): '
                'free space there or choose another folder with --work-dir')

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        loader = Runner.build_dataloader(dataloader, seed, diff_rank_seed)
        if getattr(loader, 'num_workers', 0) > 0:
            loader.worker_init_fn = partial(_obey_only_the_main_process,
                                            os.getpid(),
                                            loader.worker_init_fn)
        return loader

    # -------------------------------------------------------- checkpoints
    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None):
        """mmengine's save, made atomic on a local disk (see the class docstring)."""
        save = partial(super().save_checkpoint,
                       file_client_args=file_client_args,
                       save_optimizer=save_optimizer,
                       save_param_scheduler=save_param_scheduler, meta=meta,
                       by_epoch=by_epoch, backend_args=backend_args)
        if file_client_args is not None or not isinstance(
                get_file_backend(out_dir, backend_args=backend_args),
                LocalBackend):
            return save(out_dir, filename)  # object stores write whole
        path = osp.join(out_dir, filename)
        temp = temp_path(path)
        try:
            save(out_dir, osp.basename(temp))
            commit(temp, path)
        except OSError as err:
            remove_quietly(temp)
            raise CheckpointSaveError(
                f'could not save checkpoint {path}: {err.strerror or err} '
                f'({type(err).__name__}). No partial file was left and the '
                f'older checkpoints in {out_dir} are kept; free space there '
                '(or fix the folder) and continue with --resume') from err
        except BaseException:
            remove_quietly(temp)
            raise

    def remove_leftovers(self) -> None:
        """Delete the temporary files of saves that were killed (work_dir and checkpoint folder)."""
        if not is_main_process():
            return
        removed = remove_stale_temp_files(self.work_dir)
        pointer = read_pointer(self.work_dir)
        if pointer and osp.dirname(pointer) not in ('', self.work_dir):
            removed += remove_stale_temp_files(osp.dirname(pointer))
        if removed:
            self.logger.info(f'Removed {len(removed)} temporary file(s) of '
                             f'interrupted saves: {", ".join(removed)}')

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return
        if self._resume and self._load_from is None:
            path = self._pick_resume_checkpoint()
            if path is None:
                return
            self._load_from = path
        elif self._resume:
            self._check_named_checkpoint(self._load_from)
        super().load_or_resume()

    def _pick_resume_checkpoint(self) -> Optional[str]:
        """The newest complete checkpoint of the work_dir (rank 0 decides), logged; None if none."""
        picked = [None]
        if is_main_process():
            path, skipped = newest_complete_checkpoint(self.work_dir)
            for bad, problem in skipped:
                self.logger.warning(
                    f'Skipping checkpoint {bad}: it {problem}. Resuming from '
                    'an older one.')
            picked[0] = path
            if path is None:
                self.logger.warning(
                    f'--resume: no complete checkpoint in {self.work_dir}'
                    f'{" (all were damaged)" if skipped else ""}; training '
                    'starts from iteration 0.')
            else:
                self.logger.info(
                    f'Resuming from {path}: the newest complete checkpoint '
                    f'in {self.work_dir}.')
        broadcast_object_list(picked)
        return picked[0]

    def _check_named_checkpoint(self, path: str) -> None:
        if '://' in str(path):
            return  # remote files are checked by their loader
        problem = checkpoint_problem(path)
        if problem is None:
            return
        hint = ''
        if osp.isdir(osp.dirname(path) or '.'):
            newest, _ = newest_complete_checkpoint(osp.dirname(path) or '.')
            if newest is not None:
                hint = (f' The newest complete checkpoint next to it is '
                        f'{newest}.')
        message = (f'cannot resume from checkpoint {path}: it {problem}.'
                   f'{hint} Pass a complete checkpoint to --resume, or '
                   '--resume without a path for the newest complete one '
                   'of the work_dir.')
        self.logger.error(message)
        raise DamagedCheckpointError(message)


def estimated_checkpoint_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's state plus two Adam moments per trained parameter."""
    state = sum(v.numel() * v.element_size()
                for v in model.state_dict().values()
                if isinstance(v, torch.Tensor))
    moments = sum(2 * p.numel() * p.element_size()
                  for p in model.parameters() if p.requires_grad)
    return state + moments


def _obey_only_the_main_process(main_pid: int, init_fn,
                                worker_id: int) -> None:
    """DataLoader worker start: SIGINT ignored, SIGTERM obeyed only from the main process.

    Ctrl-C and schedulers signal every process of the group; a worker that
    died of it would fail the main process (torch raises on a killed
    worker) before it could save. The main process still ends its workers
    with SIGTERM (multiprocessing's terminate), so the sender is checked.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, 'sigwaitinfo'):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_exit_on_sigterm_from, args=(main_pid, ),
                         daemon=True).start()
    if init_fn is not None:
        init_fn(worker_id)


def _exit_on_sigterm_from(main_pid: int) -> None:
    while True:
        if signal.sigwaitinfo({signal.SIGTERM}).si_pid == main_pid:
            os._exit(0)
