"""Memory, timing and input helpers shared by the benchmark scripts (CPU: the process's peak RSS; CUDA: allocated memory)."""
import os
import platform
import resource

import torch


def reset_peak(device):
    """Start a new high-water mark here, so that building the model does not count."""
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux >= 4.0: writing '5' resets the process's peak RSS (VmHWM).
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass  # then the peak may include the build


def peak_memory(device):
    """Peak RSS (CPU, VmHWM) or max allocated (CUDA) since reset_peak, in bytes."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device)
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_memory(device):
    """Resident set size (CPU) or allocated memory (CUDA) now, in bytes."""
    if device.type == 'cuda':
        return torch.cuda.memory_allocated(device)
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def synchronize(device):
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def machine():
    """What a report needs to say where it was measured: versions, CPU, threads, load, GPU."""
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cpu=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count(), threads=torch.get_num_threads(),
                load_avg=os.getloadavg(),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name()
    return info


def make_batch(model, batch_size):
    """A batch as the data loader gives it: uint8 (3, S, S) images, S the model's generator output size."""
    size = model.generator.out_size
    rng = torch.Generator().manual_seed(0)
    return dict(inputs=[
        torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                      generator=rng) for _ in range(batch_size)
    ])
