"""Streaming audio to the rnnse firmware over a byte stream (docs/protocol.md).

* :mod:`.protocol`  frame codec, CRCs and message payloads (the Python twin of firmware/app/proto*.c)
* :mod:`.client`    stop-and-wait client with retransmission and bounded time-outs
* :mod:`.launcher`  build and start the firmware (native host app or QEMU virt) and tear it down
* :mod:`.cli`       ``rnnse enhance --target host|virt|serial:PORT|URL``
"""
