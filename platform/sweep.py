"""Run a study: the file `ray submit` runs, `search_spaces.sweep_cli` as a script.

    python platform/sweep.py --study smoke --dry-run     # the same as `sheetsweep-sweep ...`
    ray submit platform/cluster-gpu.yaml platform/sweep.py -- --study full --address auto

`python platform/sweep.py --help` lists the options.
"""

import sys

from search_spaces.sweep_cli import main

if __name__ == "__main__":
    sys.exit(main())
