"""Heterogeneous data-parallel training: each device takes its share of every host-memory batch.

One replica of the model lives on each device. A step cuts the host batch into the devices'
shares (from :func:`stoker.train.hetero.allocate`), runs forward and backward of each share on its
device with the loss scaled by ``share / batch``, sums the replicas' gradients into the master
model and steps the optimizer there, then copies the new weights back to the replicas. With a loss
that averages over its samples this makes the update equal to the full-batch update, whatever
the shares (batch-statistics layers such as BatchNorm are the exception: each share normalises
with its own statistics; their running buffers are averaged by share).

Work is issued device after device from one thread: CUDA kernels launch asynchronously, so
devices still overlap, and the host needs no extra threads or processes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from stoker.train.hetero.devices import SimulatedDevice, host_device, speed_of

Batch = tuple[torch.Tensor, torch.Tensor]
DeviceLike = str | torch.device | SimulatedDevice


def split_sizes(total: int, shares: Sequence[int]) -> list[int]:
    """Cuts ``total`` samples in proportion to ``shares`` (largest remainder; sums to ``total``).

    Equal to ``shares`` when ``total == sum(shares)``; a short last batch is cut in the same ratio.
    """
    whole = sum(shares)
    if whole <= 0 or min(shares) < 0:
        raise ValueError(f"{shares=} should be >= 0 and sum to > 0")
    exact = [total * s / whole for s in shares]
    sizes = [int(e) for e in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - sizes[i], reverse=True)
    for i in by_remainder[: total - sum(sizes)]:
        sizes[i] += 1
    return sizes


def host_batches(source: Iterable[Any]) -> Iterator[Batch]:
    """``(inputs, targets)`` host tensors from a ``stoker.Loader``, a DataLoader or any iterable of pairs.

    The one place that knows what a batch from the data side looks like: pairs (tuples or lists,
    as ``default_collate`` makes of ``(x, y)`` samples) of tensors or arrays, in host memory; the
    runtime cuts each one into the devices' shares.
    """
    for item in source:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"expected (inputs, targets) batches, got {type(item).__name__}; map them to pairs")
        yield torch.as_tensor(item[0]), torch.as_tensor(item[1])


class HeteroDataParallel:
    """Trains one model on devices of different speed, each taking a fixed share of every batch.

    Args:
        model: The master model; ``optimizer`` updates its parameters (usually in host memory).
        optimizer: Optimizer over ``model.parameters()``.
        shares: ``(device, samples per step)`` pairs; a device is ``"cpu"``, ``"cuda:N"`` or a
            :class:`SimulatedDevice`. The same device may appear twice (two replicas).
        loss_fn: ``loss_fn(outputs, targets)``, averaged over the samples it is given.

    Attributes:
        last_device_s: Seconds each replica spent on its share in the last step (host clock; divided
            by the speed for simulated devices): equal values mean the shares finished together.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        shares: Sequence[tuple[DeviceLike, int]],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    ) -> None:
        if not shares or sum(n for _, n in shares) < 1 or min(n for _, n in shares) < 0:
            raise ValueError(f"{shares=} should list devices with >= 0 samples each, > 0 in all")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.devices = [d for d, _ in shares]
        self.shares = [n for _, n in shares]
        self.replicas = [copy.deepcopy(model).to(host_device(d)) for d in self.devices]
        self.steps = 0
        self.last_device_s: list[float] = [0.0] * len(self.devices)

    @classmethod
    def from_allocation(
        cls,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        task_shares: Mapping[str, int],
        devices: Mapping[str, DeviceLike],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    ) -> HeteroDataParallel:
        """Builds from ``Allocation.task_shares(task)`` and a map of device names to devices."""
        missing = sorted(set(task_shares) - set(devices))
        if missing:
            raise ValueError(f"devices {missing} of the allocation are not in devices={sorted(devices)}")
        return cls(model, optimizer, [(devices[k], n) for k, n in task_shares.items()], loss_fn)

    def backward(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Puts the share-weighted sum of the replicas' gradients in the master's ``.grad``.

        Returns:
            The loss of the whole batch (share-weighted mean of the replicas' losses).
        """
        total = len(inputs)
        if total < 1 or len(targets) != total:
            raise ValueError(f"batch of {total} inputs and {len(targets)} targets; need the same, >= 1")
        sizes = split_sizes(total, self.shares)
        losses = []
        events: dict[int, tuple[Any, Any]] = {}
        for i, (rep, dev, x, y) in enumerate(
            zip(self.replicas, self.devices, inputs.split(sizes), targets.split(sizes))
        ):
            self.last_device_s[i] = 0.0
            if len(x) == 0:
                continue
            run_on = host_device(dev)
            start = time.perf_counter()
            if run_on.type == "cuda":
                # Time on the device with events: a host clock would need a synchronize per device,
                # which would stop the next device's work from being queued behind this one's.
                events[i] = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                events[i][0].record(torch.cuda.current_stream(run_on))
            out = rep(x.to(run_on, non_blocking=True))
            # Weighting by share makes the sum of the replicas' gradients the full-batch mean gradient.
            loss = self.loss_fn(out, y.to(run_on, non_blocking=True)) * (len(x) / total)
            loss.backward()
            losses.append(loss.detach())
            if i in events:
                events[i][1].record(torch.cuda.current_stream(run_on))
            else:
                self.last_device_s[i] = (time.perf_counter() - start) / speed_of(self.devices[i])
        for i, (begin, end) in events.items():
            end.synchronize()
            self.last_device_s[i] = begin.elapsed_time(end) / 1000.0  # ms -> s
        self._reduce_gradients()
        return float(sum(float(v) for v in losses))

    def step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """One training step on a host batch; returns its loss."""
        self.optimizer.zero_grad()
        loss = self.backward(inputs, targets)
        self.optimizer.step()
        self._broadcast()
        self.steps += 1
        return loss

    def train(self, batches: Iterable[Any], steps: int | None = None) -> list[float]:
        """Steps over ``batches`` (see :func:`host_batches`), at most ``steps`` of them; returns losses."""
        losses: list[float] = []
        for inputs, targets in host_batches(batches):
            if steps is not None and len(losses) >= steps:
                break
            losses.append(self.step(inputs, targets))
        return losses

    def _reduce_gradients(self) -> None:
        for master, *reps in zip(self.model.parameters(), *(r.parameters() for r in self.replicas)):
            grads = [p.grad.to(master.device) for p in reps if p.grad is not None]
            master.grad = torch.stack(grads).sum(0) if grads else None
            for p in reps:
                p.grad = None

    @torch.no_grad()
    def _broadcast(self) -> None:
        weights = [n / sum(self.shares) for n in self.shares]
        for master, *reps in zip(self.model.buffers(), *(r.buffers() for r in self.replicas)):
            if master.is_floating_point():  # running statistics: average by share
                master.copy_(sum(w * b.to(master.device) for w, b in zip(weights, reps)))
            else:  # counters such as num_batches_tracked advance alike on every replica
                master.copy_(reps[0])
        for rep in self.replicas:
            rep.load_state_dict(self.model.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """Master weights, optimizer state and step count (replicas are copies of the master)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the master and optimizer, then copies the weights to every replica."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state["steps"])
        for rep in self.replicas:
            rep.load_state_dict(self.model.state_dict())
