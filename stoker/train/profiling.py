"""GPU Profile: measure what one training step of a task costs on one device.

``profile(task, device)`` runs real training steps of ``task`` at several batch sizes on ``device``
and fits ``step_s = a + b * batch`` (median of timed steps after warm-up) and
``memory = fixed + per_sample * batch``. How memory is measured depends on the device:

- ``cuda:N``: ``torch.cuda.max_memory_allocated`` over one step, after warm-up so optimizer state
  exists; it counts what PyTorch's caching allocator hands out (not the CUDA context).
- ``cpu`` (and simulated devices, which run on the CPU): *saved-tensor accounting*. Bytes of the
  parameters, gradients and optimizer state, plus the input batch, plus every distinct storage that
  autograd saves for backward (``torch.autograd.graph.saved_tensors_hooks``). It leaves out
  short-lived temporaries, so it is a lower bound of the peak; the CPU allocator has no peak counter.

Simulated devices (:class:`stoker.train.hetero.SimulatedDevice`) report host times divided by their
speed and say so in ``Profile.source``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from stoker.train.hetero.devices import SimulatedDevice, device_type, host_device, speed_of
from stoker.train.hetero.fit import fit_line
from stoker.train.hetero.records import Profile

Batch = tuple[torch.Tensor, torch.Tensor]


def _sgd(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


@dataclass(frozen=True)
class ProfileTask:
    """A training task to profile.

    Attributes:
        name: Task name, copied into the profile.
        model: Builds a fresh model (profiling never touches the user's weights).
        batch: ``batch(n)`` returns ``(inputs, targets)`` of ``n`` samples in host memory.
        loss: ``loss(outputs, targets)``, a scalar.
        optimizer: Builds the optimizer over the model's parameters (its state counts as fixed memory).
    """

    name: str
    model: Callable[[], nn.Module]
    batch: Callable[[int], Batch]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default=nn.functional.cross_entropy)
    optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] = field(default=_sgd)


def profile(
    task: ProfileTask,
    device: str | torch.device | SimulatedDevice = "cpu",
    batch_sizes: Sequence[int] = (8, 16, 32, 64),
    warmup: int = 2,
    repeats: int = 5,
) -> Profile:
    """Measures step time and memory of ``task`` on ``device`` and fits them linearly in the batch.

    Args:
        task: What to train.
        device: ``"cpu"``, ``"cuda:N"`` or a :class:`SimulatedDevice`.
        batch_sizes: Batch sizes to measure (samples); at least two distinct ones.
        warmup: Untimed steps per batch size (allocator, autotuning, optimizer state).
        repeats: Timed steps per batch size; the median is used.

    Returns:
        The fitted profile; ``source`` says the device and how memory was measured.
    """
    if len(set(batch_sizes)) < 2 or min(batch_sizes) < 1:
        raise ValueError(f"{batch_sizes=} should hold >= 2 distinct sizes >= 1 to fit a line")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"{repeats=} should be >= 1 and {warmup=} >= 0")
    run_on = host_device(device)
    torch.manual_seed(0)
    model = task.model().to(run_on)
    opt = task.optimizer(model.parameters())
    times, mems = [], []
    for n in batch_sizes:
        x, y = (t.to(run_on) for t in task.batch(n))

        def step(x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            opt.zero_grad()
            task.loss(model(x), y).backward()
            opt.step()

        for _ in range(warmup):
            step()
        times.append(_median_step_s(step, run_on, repeats) / speed_of(device))
        mems.append(_step_memory_bytes(step, run_on, model, opt, (x, y)))
    a, b = fit_line(list(batch_sizes), times)
    fixed, per_sample = fit_line(list(batch_sizes), mems)
    how = "max_memory_allocated" if run_on.type == "cuda" else "saved-tensor accounting"
    where = f"simulated {device.name} on {run_on}" if isinstance(device, SimulatedDevice) else str(run_on)
    return Profile(task.name, device_type(device), a, b, round(fixed), round(per_sample), f"measured {where} ({how})")


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_step_s(step: Callable[[], None], dev: torch.device, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        step()
        _sync(dev)  # CUDA kernels run asynchronously: stop the clock when they are done
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _step_memory_bytes(
    step: Callable[[], None], dev: torch.device, model: nn.Module, opt: torch.optim.Optimizer, batch: Batch
) -> int:
    """Peak bytes one step holds on ``dev`` (see the module docstring for how, per device kind)."""
    if dev.type == "cuda":
        _sync(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        step()
        _sync(dev)
        return int(torch.cuda.max_memory_allocated(dev))
    return _saved_tensor_bytes(step, model, opt, batch)


def _storage(t: torch.Tensor) -> tuple[int, int]:
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def _saved_tensor_bytes(step: Callable[[], None], model: nn.Module, opt: torch.optim.Optimizer, batch: Batch) -> int:
    """Parameters + gradients + optimizer state + batch + distinct storages autograd saves in one step."""
    step()  # materialise gradients and optimizer state before counting them
    state = [v for s in opt.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    held = dict(_storage(t) for t in [*model.parameters(), *model.buffers(), *grads, *state])
    # The batch may be a view of a larger host tensor: count its own bytes, not the whole storage.
    held.update((_storage(t)[0], t.numel() * t.element_size()) for t in batch)
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> Any:
        ptr, nbytes = _storage(t)
        if ptr not in held:  # weights saved for backward are already counted as parameters
            saved[ptr] = nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(held.values()) + sum(saved.values())
