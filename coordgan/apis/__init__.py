from .train import init_cpu_distributed, prepare_train_config

__all__ = ['init_cpu_distributed', 'prepare_train_config']
