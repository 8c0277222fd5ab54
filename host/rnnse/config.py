"""Fixed signal-chain constants (the paper's reference configuration) and the shipped models."""

SAMPLE_RATE = 16000      # Hz
WIN_LENGTH = 400         # 25 ms periodic Hann window
HOP_LENGTH = 100         # 6.25 ms hop
N_FFT = 512              # zero-padded FFT size
N_BINS = N_FFT // 2 + 1  # 257 magnitude bins
# Streaming latency of analysis + overlap-add synthesis: an input sample is final once the
# last frame that covers it has been added, WIN_LENGTH - HOP_LENGTH samples later.
LATENCY = WIN_LENGTH - HOP_LENGTH  # 300 samples = 18.75 ms

# The shipped models (models/REPORT.md); the first is the default of every command that takes one.
SHIPPED_MODELS = ("models/gru256", "models/lstm256")
DEFAULT_MODEL = SHIPPED_MODELS[0]
