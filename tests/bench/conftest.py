import sys
from pathlib import Path

# bench/ is a folder of scripts at the repository root, not part of the installed package
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
