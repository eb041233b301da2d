"""What a visitor downloads for the chat widget: static/widget/widget.js, raw and gzipped.

    .venv/bin/python bench/widget_size.py [--budget-kb 30]

Prints the raw and gzipped (level 9, as a CDN or whitenoise would serve it) size in bytes, and exits
non-zero when the gzipped size is over the budget.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parent.parent / "static" / "widget" / "widget.js"


def sizes(path: Path = WIDGET) -> tuple[int, int]:
    raw = path.read_bytes()
    return len(raw), len(gzip.compress(raw, compresslevel=9, mtime=0))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-kb", type=float, default=30.0)
    args = parser.parse_args()
    raw, gzipped = sizes()
    budget = int(args.budget_kb * 1024)
    print(f"widget.js raw:     {raw:>7} bytes ({raw / 1024:.1f} KB)")
    print(f"widget.js gzipped: {gzipped:>7} bytes ({gzipped / 1024:.1f} KB), budget {budget} bytes")
    if gzipped > budget:
        print("over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
