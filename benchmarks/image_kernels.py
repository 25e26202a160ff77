"""Image kernels in-process: decode + crop + flip + uint8 CHW per variant; see stoker/bench/image_kernels.py."""

import sys

from stoker.bench.image_kernels import main, sample_photos

__all__ = ["main", "sample_photos"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
