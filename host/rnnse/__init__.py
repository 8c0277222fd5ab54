"""rnnse: RNN speech enhancement from PyTorch to multi-core RISC-V MCU firmware."""

__version__ = "0.1.0"
