"""``python -m bench [--quick] [--reps N] [--out PATH] [--no-app]``: see bench/README.md."""

import sys

from bench.run import main

sys.exit(main())
