"""``python -m huenet``: the ``huenet`` command (:mod:`huenet.cli`)."""

import sys

from huenet.cli import main

sys.exit(main())
