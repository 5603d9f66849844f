"""Checkpoint files that survive faults: atomic writes, completeness checks, the resume pick.

A checkpoint is written to a temporary file in its own folder, flushed to
the disk and only then renamed over its final name, so a process killed
mid-save (SIGKILL, power loss, a full disk) leaves either the old file or
the new complete one, never a truncated ``iter_N.pth``. Resuming picks the
newest file that passes :func:`checkpoint_problem`.
"""
import os
import os.path as osp
import re
import socket
import zipfile
from typing import List, Optional, Tuple

# One error class for a truncated or damaged checkpoint, wherever it is met
# (resume here, loading in coordgan.utils); a ValueError, not a RunError.
from coordgan.utils.checkpoint import DamagedCheckpointError  # noqa: F401

# What CheckpointHook names its files (``filename_tmpl`` by default).
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')
# Temporary files of a save in progress: ``.<final name>.<pid>.tmp``.
TEMP_NAME = re.compile(r'^\.(.+)\.(\d+)\.tmp$')
POINTER = 'last_checkpoint'
# A probe file this large must fit in a work_dir before training starts.
PROBE_BYTES = 1 << 16


class RunError(RuntimeError):
    """A run cannot start or go on; the message says why and what to do."""


class WorkDirError(RunError):
    """The work_dir cannot hold logs and checkpoints."""


class CheckpointSaveError(RunError):
    """Writing a checkpoint failed; no partial file was left behind."""


def temp_path(path: str) -> str:
    """The temporary name a save of ``path`` writes first (same folder, hidden, per process)."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.{os.getpid()}.tmp')


def fsync_dir(folder: str) -> None:
    """Flush a folder's entries (a rename in it) to the disk."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:  # e.g. folders cannot be opened on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync folders; the rename still holds
    finally:
        os.close(fd)


def commit(temp: str, path: str) -> None:
    """Flush ``temp`` to the disk, rename it to ``path`` and flush the rename."""
    with open(temp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(temp, path)
    fsync_dir(osp.dirname(path))


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def write_text_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (readers see the old or the new text)."""
    temp = temp_path(path)
    try:
        with open(temp, 'w') as f:
            f.write(text)
            f.flush()
        commit(temp, path)
    except BaseException:
        remove_quietly(temp)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(folder: str) -> List[str]:
    """Delete the temporary files that saves killed mid-write left in ``folder``; their names.

    Files of a process still running on this machine (another run writing
    into the same folder) are left alone.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in sorted(names):
        match = TEMP_NAME.match(name)
        if match and not _alive(int(match.group(2))):
            remove_quietly(osp.join(folder, name))
            removed.append(name)
    return removed


def checkpoint_problem(path: str) -> Optional[str]:
    """What makes ``path`` unusable as a checkpoint (missing, empty, truncated, damaged), or None.

    torch saves zip archives with a CRC per entry: every entry is read and
    checked, which finds a truncated or partly overwritten file without
    unpickling it. A file in torch's older non-zip format is fully loaded.
    """
    if not osp.exists(path):
        return 'does not exist'
    if osp.isdir(path):
        return 'is a folder, not a checkpoint file'
    size = osp.getsize(path)
    if size == 0:
        return 'is empty (0 bytes): its save was interrupted'
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK'):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            return (f'is truncated or damaged ({size} bytes; the torch zip '
                    f'archive is incomplete: {err}): its save was '
                    'interrupted or the file was cut short')
        if bad is not None:
            return (f'is damaged: entry {bad!r} fails its CRC check (the file '
                    'was partly overwritten or corrupted)')
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            return 'is a zip archive but not a torch checkpoint (no data.pkl)'
        return None
    return _legacy_problem(path, size)


def _legacy_problem(path: str, size: int) -> Optional[str]:
    import torch
    try:
        torch.load(path, map_location='cpu', weights_only=False)
    except Exception as err:  # noqa: BLE001 - any failure means unusable
        return (f'is truncated or damaged ({size} bytes; not a torch zip '
                f'archive, and loading it fails: {type(err).__name__}: '
                f'{err})')
    return None


def checkpoint_step(path: str) -> Optional[int]:
    """N of ``iter_N.pth`` / ``epoch_N.pth``, else None."""
    match = CHECKPOINT_NAME.match(osp.basename(path))
    return int(match.group(1)) if match else None


def read_pointer(work_dir: str) -> Optional[str]:
    """The path in ``work_dir/last_checkpoint``, if the file exists and names one."""
    try:
        with open(osp.join(work_dir, POINTER)) as f:
            text = f.read().strip()
    except OSError:
        return None
    return text or None


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints a resume may start from, newest first.

    The ``iter_N.pth`` / ``epoch_N.pth`` files of ``work_dir`` and of the
    folder ``last_checkpoint`` points into (a CheckpointHook ``out_dir``),
    plus the file it names. Newest means last written (modification time),
    as the pointer means it: a run started afresh in an old work_dir
    resumes from its own checkpoints, not the old run's higher numbers.
    """
    pointer = read_pointer(work_dir)
    folders = [work_dir]
    if pointer and osp.dirname(pointer) and osp.isdir(osp.dirname(pointer)):
        folders.append(osp.dirname(pointer))
    paths = set()
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        paths.update(
            osp.abspath(osp.join(folder, n)) for n in names
            if CHECKPOINT_NAME.match(n))
    if pointer and osp.isfile(pointer):
        paths.add(osp.abspath(pointer))

    def newest_first(path):
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = -1
        return (mtime, checkpoint_step(path) or -1, path)

    return sorted(paths, key=newest_first, reverse=True)


def newest_complete_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest checkpoint of ``work_dir`` that is complete, and the (path, problem) of newer ones skipped."""
    skipped = []
    for path in resume_candidates(work_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def check_work_dir(work_dir: str, probe_bytes: int = PROBE_BYTES) -> None:
    """Raise :class:`WorkDirError` unless ``work_dir`` can be created and written.

    Creates the folder, then writes, flushes and removes a small probe file:
    a read-only or foreign folder, a path through a file, or a full disk
    fails here, before any training, with the folder's name.
    """
    work_dir = osp.abspath(work_dir)
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as err:
        raise WorkDirError(
            f'work_dir {work_dir} cannot be created: '
            f'{err.strerror or err} ({type(err).__name__}). Choose another '
            'folder with --work-dir or fix its permissions') from err
    probe = osp.join(work_dir, f'.write-test.{socket.gethostname()}.'
                     f'{os.getpid()}.tmp')
    try:
        with open(probe, 'wb') as f:
            f.write(b'\0' * probe_bytes)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        remove_quietly(probe)
        raise WorkDirError(
            f'work_dir {work_dir} is not writable: {err.strerror or err} '
            f'({type(err).__name__}, errno {err.errno}); logs and checkpoints '
            'could not be saved. Free space there, fix its permissions or '
            'choose another folder with --work-dir') from err
    remove_quietly(probe)

