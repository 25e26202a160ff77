"""Image decoders behind :func:`stoker.io.read_image`: one per module, chosen once per process.

Every decoder turns a file's bytes into the same HWC uint8 RGB pixels. The libjpeg-turbo decoders
(Pillow's own and simplejpeg's) use the same accurate integer IDCT and fancy upsampling, so their
pixels are bit-identical (``tests/unit/io_kernels`` checks this on real photographs); a faster one
is therefore not an approximation. The choice is still explicit and deterministic, so a run never
mixes decoders:

- ``STOKER_IMAGE_BACKEND=pillow|simplejpeg`` pins it for every process that inherits the
  environment (local workers, and Ray workers through ``runtime_env={"env_vars": ...}``);
  naming a decoder that is not installed is an error, never a silent fallback;
- otherwise the fastest installed decoder wins, in :data:`PREFERENCE` order, which depends only
  on the packages installed (``pip install 'stoker[fast]'`` adds simplejpeg);
- ``read_image(path, backend=...)`` pins it per call.

The Loader records the trainer's choice in its stream fingerprint (see :func:`image_backend`).
"""

from __future__ import annotations

import os
from functools import cache

from stoker.errors import InputError
from stoker.io_kernels.decoder import Decoder
from stoker.registry import Lazy, Registry

ENV_VAR = "STOKER_IMAGE_BACKEND"
PREFERENCE = ("simplejpeg", "pillow")  # measured fastest first: benchmarks/image_kernels.py

DECODERS: Registry[Decoder] = Registry(
    "image decoder",
    {
        "pillow": Lazy("stoker.io_kernels.pillow_decoder", "DECODER"),
        "simplejpeg": Lazy("stoker.io_kernels.simplejpeg_decoder", "DECODER"),
    },
)


def decoder(name: str) -> Decoder:
    """The decoder registered as ``name``, refusing one whose package is not installed.

    Raises:
        InputError: ``name`` is unknown (the message lists the valid names) or not installed.
    """
    dec = DECODERS.lookup(name)
    if not dec.available():
        raise InputError(
            f"image decoder {name!r} is not installed ({dec.install_hint}); install it, "
            f"or choose one of {available_backends()} (env {ENV_VAR} or read_image(backend=...))"
        )
    return dec


def available_backends() -> list[str]:
    """Installed decoders, fastest first."""
    return [name for name in PREFERENCE if DECODERS.lookup(name).available()]


@cache
def image_backend() -> str:
    """This process's decoder: ``$STOKER_IMAGE_BACKEND`` if set, else the fastest installed.

    Resolved once per process (the environment and the installed packages don't change under a
    running worker), so every sample a process decodes uses the same decoder.
    """
    pinned = os.environ.get(ENV_VAR, "").strip()
    if pinned:
        decoder(pinned)  # refuses an unknown or missing decoder by name
        return pinned
    return available_backends()[0]
