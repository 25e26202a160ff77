"""Activation swapping: saved activations go to host memory in forward, come back in backward.

As in vDNN / Capuchin and ``torch.autograd.graph.save_on_cpu``, built on
``torch.autograd.graph.saved_tensors_hooks``. On CUDA a saved activation is copied into pinned
host memory on a side stream (so the copy overlaps the next layer's compute) and copied back on
first use in backward. Parameters are never moved: they stay resident anyway. On CPU nothing
needs moving, but the accounting still runs, which is what :func:`find_max_batch` measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class SwapStats:
    """What a forward pass saved for backward (distinct storages counted once).

    Attributes:
        saved: Bytes of each distinct saved activation, in the order saved.
        swapped_bytes: Bytes copied to host (0 on CPU).
    """

    saved: list[int] = field(default_factory=list)
    swapped_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(self.saved)

    @property
    def largest_bytes(self) -> int:
        return max(self.saved, default=0)


class SwapToHost:
    """Context manager: activations saved inside it live in host memory until backward needs them.

    Args:
        enabled: When False the context is a no-op (so callers need not branch).
        swap: Move CUDA activations to host; False keeps them but still counts them.
    """

    def __init__(self, enabled: bool = True, swap: bool = True) -> None:
        self.enabled, self.swap = enabled, swap
        self.stats = SwapStats()
        self._seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], Any] = {}
        self._hooks: Any = None
        self._stream: Any = None

    def __enter__(self) -> SwapToHost:
        if self.enabled:
            self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
            self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hooks is not None:
            self._hooks.__exit__(*exc)
            self._hooks = None
        # Saved tensors hold their own references; dropping the dedup table frees nothing
        # still needed by backward.
        self._seen.clear()

    def _pack(self, t: torch.Tensor) -> Any:
        base = t if t._base is None else t._base  # Linear saves weight.t(), a view of the parameter
        if isinstance(base, torch.nn.Parameter) or (base.is_leaf and base.requires_grad):
            return ("keep", t)  # a parameter: resident on the device regardless
        key = (t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape), tuple(t.stride()))
        if key in self._seen:
            return self._seen[key]  # e.g. ReLU's output saved again as the next Linear's input
        self.stats.saved.append(t.numel() * t.element_size())
        packed = self._offload(t) if (self.swap and t.is_cuda) else ("keep", t)
        self._seen[key] = packed
        return packed

    def _offload(self, t: torch.Tensor) -> Any:
        if self._stream is None:
            self._stream = torch.cuda.Stream(device=t.device)
        host = torch.empty(t.shape, dtype=t.dtype, layout=t.layout, pin_memory=True)
        # The side stream must see t fully written, and t must outlive the async copy.
        self._stream.wait_stream(torch.cuda.current_stream(t.device))
        with torch.cuda.stream(self._stream):
            host.copy_(t, non_blocking=True)
        t.record_stream(self._stream)
        done = torch.cuda.Event()
        done.record(self._stream)
        self.stats.swapped_bytes += host.numel() * host.element_size()
        return ("host", t.device, host, done)

    @staticmethod
    def _unpack(packed: Any) -> torch.Tensor:
        if packed[0] == "keep":
            return packed[1]
        _, device, host, done = packed
        done.synchronize()
        return host.to(device, non_blocking=True)
