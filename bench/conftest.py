import sys
from pathlib import Path

# The suite's helpers (workloads.py, peers.py) sit beside it.
sys.path.insert(0, str(Path(__file__).parent))
