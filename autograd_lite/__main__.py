"""``python -m autograd_lite`` runs the command line."""

import sys

from autograd_lite.cli import main

sys.exit(main())
