"""``python -m rnnse``: the ``rnnse`` command line."""
import sys

from .cli import main

sys.exit(main())
