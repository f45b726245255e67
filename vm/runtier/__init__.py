"""Run-tier compiler: hot code's generated Python, rewritten to run fast.

The step tier runs each instruction's generated code (vm.codegen) on its own.
The run tier compiles a *trace* into one Python function: a basic block, or,
once the machine has seen which way its branches usually go, the
instructions in the order they usually run (vm.cpu.Machine._trace), leaving
the function where a branch goes the other way. This package rewrites the
concatenated code; it changes where values live and skips work whose result
nobody can observe, never what an instruction computes (every value still
comes from the instruction's template):

* general registers live in Python locals, loaded once and stored at exits;
* xmm lanes are cached in locals: a lane read twice is loaded once, a lane
  written twice is stored once, and a lane whose bits were just loaded from
  memory is read as a float straight from memory when a float is wanted;
* flags stay *pending*: a flag-writing instruction's record (kind, size,
  operands, result) is kept as expressions over locals and built as a tuple
  only when something needs the tuple (an exit, a fault, a generic reader).
  A conditional branch or a CF reader on a record of known kind tests the
  operands directly (cond_source/cf_source, checked against vm.isa.flags by
  tests/test_flags.py); records nobody can observe are never built;
* constants, copies and single-use temporaries are propagated, masks that
  cannot change a value are dropped, memory checks on constant addresses are
  decided at compile time, and dead code is removed;
* a trace that ends by branching back to its start becomes a loop, running
  from a steady state (what is in locals at the top of every iteration). A
  memory access whose address is affine in registers the loop does not
  change plus at most one register it does change is not checked at the
  access: when the loop starts, the range of that register for which every
  such access stays inside its mapping (aligned, without 64-bit wrap) is
  computed, and for a register that moves by a fixed step, the number of
  iterations that stay in range. Those iterations run with memoryview reads
  and writes instead of struct calls and checks; the rest of the loop runs
  in a copy of the body that checks every access, so faults are reported
  exactly as the step tier reports them.

Exits (faults, syscalls, host calls, observers, `wlog`, side exits, the end
of the trace) store what the locals hold first, so the machine state seen
there is the step tier's, and they report the exact number of instructions
run. The result is an `ast.Module`; `source(fn)` shows a compiled function
as Python. tests/test_run_tier.py compares it with the step tier.

The package, bottom up:
  pyast        Python syntax trees: constructors, walking, renaming, folding
  flags        conditions and CF of a flags record of known kind; Pending
  state        what the compiler knows while it emits (lanes, flags, constants,
               affine values, memory views)
  trace        the instructions of a trace and what they touch
  emit_base    the emitter's primitives: locals, widths, affine forms, exits
  emit_lanes   the xmm lane cache
  emit_memory  memory checks, hoisted range constraints, memoryview access
  emitter      Emitter: rewrites each generated statement for the state
  deadcode     dead code removal, forwarding of single-use temporaries
  loops        steady state, back edge, one iteration in each mode
  loop_entry   a fast loop's entry: range tests as bounds or a trip count
  compiler     compile_block: the function for a trace; source()
"""

from .compiler import compile_block, source
from .flags import cf_source, cond_source
from .trace import Item, parse_item

__all__ = ["Item", "cf_source", "compile_block", "cond_source", "parse_item", "source"]
