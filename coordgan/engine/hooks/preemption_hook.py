"""SIGTERM / SIGINT (preemption, Ctrl-C): save at the next iteration boundary and stop cleanly."""
import os.path as osp
import signal
import threading
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from coordgan.engine.runner.checkpoint_files import POINTER, write_text_atomic
from coordgan.registry import HOOKS


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On SIGTERM or SIGINT, finish the iteration, save a checkpoint and end training.

    The handlers are installed at ``before_train`` and the previous ones
    restored when training ends (normally or by an error). A signal only
    sets a flag; at the end of the running iteration, after the other hooks,
    the checkpoint is written exactly as an interval checkpoint
    (``iter_N.pth`` and ``last_checkpoint`` through the CheckpointHook, so
    ``--resume`` continues from it) and the loop stops: the process exits
    with status 0 and the log says why. With several ranks the flag is
    all-reduced every iteration, so all ranks stop at the same boundary.

    Signals arriving while the checkpoint is written are ignored (the save
    is atomic anyway). A second SIGINT before the save starts interrupts at
    once, as Ctrl-C does without this hook, with no checkpoint.

    Args:
        signals: names of the signals to handle.
    """

    # After the CheckpointHook (VERY_LOW), so an interval save of the same
    # iteration is reused rather than written twice.
    priority = 'LOWEST'

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGINT')):
        self.signals = []
        for name in signals:
            sig = getattr(signal, str(name), None)
            if not isinstance(sig, signal.Signals):
                raise ValueError(
                    f'PreemptionHook: unknown signal {name!r}; use names '
                    f'such as SIGTERM, SIGINT, SIGUSR1')
            self.signals.append(sig)
        self.received: Optional[int] = None
        self.saving = False
        self._previous: Dict[int, object] = {}

    # ------------------------------------------------------------ handlers
    def _handle(self, signum, frame) -> None:
        if self.saving:
            return
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt(
                'interrupted again before the checkpoint was saved')
        self.received = signum

    def before_train(self, runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning(
                'PreemptionHook: training runs outside the main thread, '
                'where signal handlers cannot be installed; SIGTERM/SIGINT '
                'will not save a checkpoint.')
            return
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore_handlers(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else
                          previous)
        self._previous.clear()

    def after_train(self, runner) -> None:
        self.restore_handlers()

    def after_train_exit(self, runner) -> None:
        self.restore_handlers()

    # --------------------------------------------------------- the boundary
    def _stop_requested(self) -> bool:
        flag = self.received is not None
        if get_world_size() > 1:
            votes = torch.tensor([int(flag)])
            all_reduce(votes, op='max')
            flag = bool(votes.item())
        return flag

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self._stop_requested():
            return
        self.saving = True
        try:
            path = self._save(runner)
        finally:
            self.saving = False
        name = ('a stop signal on another rank' if self.received is None
                else signal.Signals(self.received).name)
        runner.logger.warning(
            f'Received {name}: saved {path} after iteration {runner.iter + 1}'
            f' and stopping training (exit status 0). Continue with '
            f'`tools/train.py CONFIG --resume`.')
        runner.train_loop.stop_training = True

    def _save(self, runner) -> str:
        """Write this iteration's checkpoint as the CheckpointHook would; its path."""
        step = runner.iter + 1
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                    None)
        if hook is not None and not hook.by_epoch:
            path = hook.file_backend.join_path(hook.out_dir,
                                               hook.filename_tmpl.format(step))
            if hook.last_ckpt != path:  # not saved at this iteration yet
                hook._save_checkpoint(runner)
            return path
        # No iteration-based CheckpointHook: an iter_N.pth of our own.
        filename = f'iter_{step}.pth'
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False,
                               meta=dict(epoch=runner.epoch, iter=step))
        path = osp.join(runner.work_dir, filename)
        if is_main_process():
            write_text_atomic(osp.join(runner.work_dir, POINTER), path)
        return path
