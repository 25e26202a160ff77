"""Finds checks that only raise: ``if labels.max() >= vocab: raise ValueError(...)``, ``assert (x >= 0).all()``.

Such a branch reads the data, but only to refuse it: on every batch that trains, the program goes
the same way. The tracer (:mod:`stoker.graph.specialise`) asks, when Python wants ``bool()`` of a
traced tensor, whether the side *not* taken on the example batch does nothing but raise; if so the
check becomes a run-time ``torch._assert`` in the graph instead of stopping the trace.

The answer comes from the calling frame's bytecode: the conditional jump being executed, and the
straight-line block it would otherwise go to, which must end in ``RAISE_VARARGS`` before any
store, jump or return.
"""

from __future__ import annotations

import dis
from types import FrameType

# Conditional jumps that pop the tested value: (jumps when the value is True?)
_JUMPS = {
    "POP_JUMP_IF_TRUE": True,
    "POP_JUMP_FORWARD_IF_TRUE": True,
    "POP_JUMP_BACKWARD_IF_TRUE": True,
    "POP_JUMP_IF_FALSE": False,
    "POP_JUMP_FORWARD_IF_FALSE": False,
    "POP_JUMP_BACKWARD_IF_FALSE": False,
}
# Instructions that end a straight-line block without raising: the branch does more than raise.
_ENDS = ("STORE_", "DELETE_", "JUMP", "RETURN", "YIELD", "SETUP_", "IMPORT_", "BEFORE_WITH", "FOR_ITER")


def raise_only_branch(frame: FrameType | None, taken: bool) -> str | None:
    """``file:line`` of the check when the branch not taken for ``taken`` only raises, else None.

    Args:
        frame: The frame executing the conditional jump on ``bool(value)``.
        taken: ``bool(value)`` on the example batch.
    """
    if frame is None:
        return None
    code = frame.f_code
    instructions = list(dis.get_instructions(code))
    at = next((i for i, ins in enumerate(instructions) if ins.offset == frame.f_lasti), None)
    if at is None or instructions[at].opname not in _JUMPS:
        return None
    jump = instructions[at]
    jumps_if = _JUMPS[jump.opname]
    # The other side: the jump target when the example falls through, the next instruction otherwise.
    other = jump.argval if taken != jumps_if else instructions[at + 1].offset
    start = next((i for i, ins in enumerate(instructions) if ins.offset == other), None)
    if start is None:
        return None
    for ins in instructions[start:]:
        if ins.opname == "RAISE_VARARGS":
            return f"{code.co_filename}:{frame.f_lineno}"
        if ins.opname.startswith(_ENDS):
            return None
    return None
