"""What to do when a step cannot be traced: one piece of advice per kind of failure.

:func:`stoker.graph.trace.trace_program` classifies what stopped the trace (the ``kind`` of a
:class:`~stoker.graph.specialise.TraceStop`, or the exception fx raised) and the fallback message
quotes the advice for that kind, so a user reads what fits their construct.
"""

from __future__ import annotations

ADVICE: dict[str, str] = {
    "branch": (
        "a Python if/while/and on a tensor's values decides per batch, so no single graph holds: "
        "write it as tensor ops (torch.where(cond, a, b), masks), or decide in the pipeline and "
        "pass the result in the batch"
    ),
    "value_to_python": (
        "a value of the data read into Python (.item(), int(), float(), a tensor as an index count) "
        "would be baked in: keep it a tensor, or compute it in the pipeline and pass it in the batch"
    ),
    "iterate": (
        "iterating over something whose length is unknown: loop over range(x.size(d)) or use tensor ops (unbind, split)"
    ),
    "module_not_installed": (
        "an nn.Module called in forward is neither a submodule of the model nor reachable from "
        "loss_fn's closure: make it an attribute of the model, or pass it as (part of) loss_fn"
    ),
    "foreign_call": (
        "a call outside torch (numpy, PIL, a C extension) cannot take a traced tensor: move that step "
        "into the pipeline, or put it in a helper marked @stoker.stateful, which runs as one opaque step "
        "in the trainer"
    ),
    "in_place": (
        "an item assignment or in-place write into a buffer or into a view of another tensor changes "
        "what other values read: assign into a fresh tensor (torch.zeros(...), x.clone()) or use "
        "torch.where / index_put"
    ),
    "run": (
        "an operation failed on the example batch: check that the pipeline yields what the model "
        "takes, or pass example="
    ),
    "other": (
        "pin the module around this line to the training side (pin={'model.<path>': 'train'}) or "
        "simplify forward; everything before it can still move once it traces"
    ),
}


def advice_for(kind: str) -> str:
    """The advice for a kind of trace failure (``"other"`` for a kind without its own)."""
    return ADVICE.get(kind, ADVICE["other"])
