"""The fast-mode guard: a twin stands in for a routine only while the routine
is the code the twin was written for (vm.accel.attach, fingerprint).

For each twin, three edits of its routine (an instruction changed, one
removed, one added) must each refuse that twin. Running the changed program
with --fast must print exactly what the interpreter prints (slow tests), and
the stale twin, forced in, must not (so the edit matters and the comparison
can fail). Hyper-parameters (-D values, `run` options) are not edits: they
keep every twin, and fast still equals interpreted.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_vm.debugger.commands import execute
from mnist_vm.debugger.session import Session
from mnist_vm.kernels import twins
from mnist_vm.kernels.mnist import SHIPPED_SOURCES_SHA256, shipped_sources_digest
from mnist_vm.training import program_files
from vm import Machine, assemble
from vm.accel import DIFFERS, UNKNOWN, Twin, attach, fingerprint

ROOT = Path(__file__).resolve().parents[1]
FILES = program_files()
SOURCES = {Path(f).name: Path(f).read_text() for f in FILES}
TINY = {"EPOCHS": "1", "TRAIN_LIMIT": "64", "BATCH": "32", "TEST_LIMIT": "50", "PRINT_EVERY": "1"}

# twin -> (file, routine label the edit is made in, changed (old, new),
#          removed line, added (after this line, the new line)); each edit
# applies to the first match after the label. The changed edit is the one run.
EDITS = {
    "dense_forward": (
        "layers.asm",
        "dense_forward",
        ("addps xmm2, xmm1", "subps xmm2, xmm1"),
        "addss xmm2, xmm1",
        ("mulps xmm1, xmm0", "addps xmm1, xmm1"),
    ),
    "dense_backward": (
        "layers.asm",
        "dense_backward",
        ("addps xmm0, xmm1", "subps xmm0, xmm1"),
        "haddps xmm0, xmm0",
        ("mulps xmm1, xmm2", "mulps xmm1, xmm1"),
    ),
    "relu_forward": (
        "activations.asm",
        "relu_forward",
        ("maxps xmm0, xmm1", "minps xmm0, xmm1"),
        "maxps xmm0, xmm1",
        ("maxps xmm0, xmm1", "addps xmm0, xmm0"),
    ),
    "relu_backward": (
        "activations.asm",
        "relu_backward",
        ("ja .keep", "jb .keep"),
        "mov dword [rdi + rax*4], 0",
        (".keep:", "    inc rax"),
    ),
    "softmax_xent": (
        "softmax.asm",
        "softmax_xent",
        ("subss xmm0, xmm1", "addss xmm0, xmm1"),
        "divss xmm0, [rsp+28]",
        ("cvtsd2ss xmm0, xmm0", "addss xmm0, xmm0"),
    ),
    "sgd_update": (
        "sgd.asm",
        "sgd_update",
        ("subps xmm2, xmm1", "addps xmm2, xmm1"),
        "subss xmm2, xmm1",
        ("mulps xmm1, xmm0", "mulps xmm1, xmm0"),
    ),
    "load_batch": (
        "data.asm",
        "load_batch",
        ("divss xmm0, xmm7", "mulss xmm0, xmm7"),
        "mov [r10], bl",
        ("cvtsi2ss xmm0, eax", "addss xmm0, xmm0"),
    ),
    "count_correct": (
        "softmax.asm",
        "count_correct",
        ("jbe .not_better", "jae .not_better"),
        "movaps xmm0, xmm1",
        ("inc rax", "inc rax"),
    ),
    # init_weights' work is done by init_matrix, which it calls: edits there count
    "init_weights": (
        "rng.asm",
        "init_matrix",
        ("addss xmm0, xmm0", "addss xmm0, [rel f_one]"),
        "sqrtss xmm1, xmm1",
        ("addss xmm0, xmm0", "addss xmm0, xmm0"),
    ),
    "shuffle": (
        "rng.asm",
        "shuffle",
        ("mov [rbx + rdx*4], eax", "mov [rbx + rdx*4], ecx"),
        "dec r12",
        ("lea r13, [r12 + 1]", "lea r13, [r12 + 1]"),
    ),
}
KINDS = ("changed", "removed", "added")


def edit(kind: str, twin: str) -> dict[str, str]:
    """The program's sources with one edit of the twin's routine."""
    file, label, (old, new), removed, (after, added) = EDITS[twin]
    text = SOURCES[file]
    start = text.index(f"\n{label}:\n")

    def line_at(needle: str) -> tuple[int, int]:
        i = text.index(needle, start)
        return text.rindex("\n", 0, i) + 1, text.index("\n", i) + 1

    if kind == "changed":
        lo, hi = line_at(old)
        text = text[:lo] + text[lo:hi].replace(old, new) + text[hi:]
    elif kind == "removed":
        lo, hi = line_at(removed)
        text = text[:lo] + text[hi:]
    else:
        _, hi = line_at(after)
        text = text[:hi] + f"    {added.strip()}\n" + text[hi:]
    assert text != SOURCES[file]
    return {str(Path(f)): (text if Path(f).name == file else SOURCES[Path(f).name]) for f in FILES}


def build(sources: dict[str, str], defines: dict[str, str]):
    return assemble(list(sources.items()), defines=defines)


def machine(image, root=".") -> tuple[Machine, io.BytesIO]:
    out = io.BytesIO()
    return Machine(image, root=str(root), stdout=out, stderr=io.BytesIO()), out


def test_the_shipped_program_gets_every_twin():
    m, _ = machine(assemble(FILES, defines=TINY))
    got = attach(m, twins())
    assert got.attached == list(twins()) and not got.refused


def test_the_shipped_sources_are_the_ones_the_twins_were_verified_for():
    assert shipped_sources_digest() == SHIPPED_SOURCES_SHA256, (
        "programs/mnist changed: run the twin tests, then update SHIPPED_SOURCES_SHA256 "
        "in mnist_vm/kernels/mnist.py"
    )


@pytest.mark.parametrize("edited", [False, True])
def test_the_shipped_sources_edited_in_place_give_no_twin(tmp_path, monkeypatch, edited):
    """A learner who edits programs/mnist itself (not a copy) changes the
    reference on disk too: then nothing counts as known and every routine runs
    as written. The unedited copy still gets every twin (the test can fail)."""
    import mnist_vm.training as training

    copy = tmp_path / "mnist"
    shutil.copytree(training.program_dir(), copy)
    if edited:
        f = copy / "activations.asm"
        f.write_text(f.read_text().replace("maxps xmm0, xmm1", "minps xmm0, xmm1", 1))
    monkeypatch.setattr(training, "program_dir", lambda: copy)
    m, _ = machine(assemble(training.program_files(), defines=TINY))
    got = attach(m, twins())
    if edited:
        assert got.attached == [] and got.refused["relu_forward"] == UNKNOWN
    else:
        assert got.attached == list(twins()) and not got.refused


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("twin", list(EDITS))
def test_an_edited_routine_refuses_its_twin(twin, kind):
    m, _ = machine(build(edit(kind, twin), TINY))
    got = attach(m, twins())
    assert got.refused.get(twin) == DIFFERS
    assert twin not in got.attached
    assert m.image.symbols[twin].value not in m.accel
    # only the routines that contain the edit (itself or through a call) are refused
    assert len(got.refused) == 1
    assert f"{twin}: code differs from the known routine, running it as written" in (got.messages())


def test_where_the_code_sits_does_not_matter_only_what_it_does():
    """An instruction added outside every twinned routine moves all of them
    (and the data after them) without refusing any."""
    src = {str(Path(f)): SOURCES[Path(f).name] for f in FILES}
    main = next(f for f in src if f.endswith("main.asm"))
    src[main] = src[main].replace("section .text\n", "section .text\n" + "    nop\n" * 5, 1)
    image = build(src, TINY)
    shipped = assemble(FILES, defines=TINY)
    assert image.symbols["relu_forward"].value != shipped.symbols["relu_forward"].value
    m, _ = machine(image)
    assert attach(m, twins()).attached == list(twins())


@pytest.mark.parametrize(
    "file, old, new, twin",
    [
        ("data.asm", "f_255:          dd 255.0", "f_255:          dd 256.0", "load_batch"),
        ("rng.asm", "f_two_m24:    dd 0x33800000", "f_two_m24:    dd 0x33000000", "init_weights"),
        (
            "rng.asm",
            "layer_sizes:  dq N_IN, H1, H2, N_OUT",
            "layer_sizes:  dq N_IN, H1, 7, N_OUT",
            "init_weights",
        ),
        ("rng.asm", "shr rcx, 7", "shr rcx, 9", "shuffle"),
    ],
    ids=["constant-it-reads", "callee-constant", "data-the-twin-reads", "shared-callee"],
)
def test_constants_and_callees_are_part_of_the_routine(file, old, new, twin):
    src = {str(Path(f)): SOURCES[Path(f).name] for f in FILES}
    path = next(f for f in src if f.endswith(file))
    assert old in src[path]
    src[path] = src[path].replace(old, new)
    m, _ = machine(build(src, TINY))
    got = attach(m, twins())
    assert got.refused.get(twin) == DIFFERS
    if "shr" in old:  # xorshift_next feeds init_weights too
        assert set(got.refused) == {"shuffle", "init_weights"}


def test_a_twin_without_a_known_routine_is_never_attached():
    m, _ = machine(assemble(FILES, defines=TINY))
    t = twins()["relu_forward"]
    got = attach(m, {"relu_forward": Twin("relu_forward", t.fn, t.args)})
    assert got.attached == [] and "relu_forward" in got.refused


@pytest.mark.parametrize(
    "defines",
    [{"H1": "256", "H2": "32"}, {"LR": "0.05", "BATCH": "32"}, {"SEED": "12345", "SHUFFLE": "0"}],
    ids=["widths", "lr-batch", "seed"],
)
def test_hyper_parameters_are_not_edits(defines):
    image = assemble(FILES, defines={**TINY, **defines})
    m, _ = machine(image)
    assert attach(m, twins()).attached == list(twins())
    # and the fingerprint does see the value where the code embeds it
    default = assemble(FILES, defines=TINY)
    if "H1" in defines:
        assert fingerprint(image, "init_weights") != fingerprint(default, "init_weights")


# ---- running the edited programs -------------------------------------------------------
def run_both(image, root, stale: bool = False):
    """Output interpreted, with the guarded twins, and (stale) with every twin
    forced in by name as before the guard."""
    outs = []
    for mode in ("interpreted", "fast") + (("stale",) if stale else ()):
        m, out = machine(image, root)
        if mode == "fast":
            attach(m, twins())
        elif mode == "stale":
            for name, t in twins().items():
                m.accel[m.image.symbols[name].value] = t
            m.invalidate()
        m.run()
        outs.append(out.getvalue())
    return outs


@pytest.mark.slow
@pytest.mark.parametrize("twin", list(EDITS))
def test_fast_mode_runs_an_edited_routine_as_written(twin, mnist_dir):
    image = build(edit("changed", twin), TINY)
    interpreted, fast, stale = run_both(image, mnist_dir, stale=True)
    assert fast == interpreted
    assert stale != interpreted, "the edit must matter, or this test could not fail"


@pytest.mark.slow
@pytest.mark.parametrize(
    "defines", [{"H1": "256", "H2": "32"}, {"LR": "0.05", "BATCH": "32"}], ids=["widths", "lr"]
)
def test_hyper_parameters_keep_fast_equal_to_interpreted(defines, mnist_dir):
    interpreted, fast = run_both(assemble(FILES, defines={**TINY, **defines}), mnist_dir)
    assert fast == interpreted
    assert b"final test_acc" in fast


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_exec_fast_says_once_that_it_runs_the_edited_relu_as_written(tmp_path, mnist_dir):
    """The issue's example: relu_forward without its maxps/maxss lines."""
    prog = tmp_path / "prog"
    prog.mkdir()
    for name, text in SOURCES.items():
        if name == "activations.asm":
            text = "".join(
                line
                for line in text.splitlines(keepends=True)
                if not line.lstrip().startswith(("maxps", "maxss"))
            )
        (prog / name).write_text(text)
    (prog / "config.inc").write_text((Path(FILES[0]).parent / "config.inc").read_text())
    files = sorted(str(p) for p in prog.glob("*.asm"))
    defs = [a for k, v in TINY.items() for a in ("-D", f"{k}={v}")]
    slow = cli("exec", *files, *defs, "--root", str(mnist_dir))
    fast = cli("exec", "--fast", *files, *defs, "--root", str(mnist_dir))
    assert slow.returncode == fast.returncode == 0, fast.stderr
    assert fast.stdout == slow.stdout
    msg = "relu_forward: code differs from the known routine, running it as written"
    assert fast.stderr.count(msg) == 1 and msg not in slow.stderr
    shipped = cli("exec", "--fast", *FILES, *defs, "--root", str(mnist_dir))
    assert "differs" not in shipped.stderr


@pytest.mark.slow
def test_run_fast_with_options_keeps_every_twin(mnist_dir):
    r = cli(
        "run", "--fast", "--lr", "0.05", "--batch-size", "32", "--epochs", "1",
        "--limit", "128", "--test-limit", "100", "--data", str(mnist_dir),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "to 10 twins" in r.stdout and "differs" not in r.stdout + r.stderr


def test_debugger_continue_fast_names_the_refused_twin(mnist_dir):
    s = Session(build(edit("changed", "relu_forward"), TINY), root=str(mnist_dir))
    reply = execute(s, "continue --fast")
    text = "\n".join(str(x) for x in reply.lines)
    assert "relu_forward: code differs from the known routine, running it as written" in text
    assert s.machine.exit_status == 0, text
