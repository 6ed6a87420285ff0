"""``python -m closeframe``: the same as the ``closeframe`` command."""

import sys

from closeframe.cli import main

sys.exit(main())
