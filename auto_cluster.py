"""python auto_cluster.py --model pattern [--k 12 | --k auto]: a new cluster version (`swatch cluster`)."""

from swatch.cli import script

if __name__ == "__main__":
    script("cluster")
