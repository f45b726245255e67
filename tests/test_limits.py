"""Every bound the machine and the state loader set: a clear one-line error
past it, and a memory ceiling while getting there (each case runs in a
subprocess under resource.setrlimit(RLIMIT_AS) or measures its peak RSS).

The assembler's limits on sizes (resb/times, include and macro expansion,
source size) are tested with the assembler (tests/test_assembler.py); those
on the number of items, which bound the memory of instruction-dense
programs, are here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIB = 1 << 30

# a tiny program and a helper to write a state file whose parts a case replaces
PRELUDE = """
import io, json, resource, struct, sys, zlib
from vm import Machine, assemble
from vm.state import MAGIC, VERSION, StateError, load_state, save_state

SRC = "global _start\\nsection .data\\nx: dq 1\\nsection .text\\n_start:\\n    mov eax, 60\\n    xor edi, edi\\n    syscall\\n"

def valid_state(path):
    save_state(Machine(assemble([("t.asm", SRC)]), stdout=io.BytesIO()), path)
    data = open(path, "rb").read()
    hlen = struct.unpack_from("<IQ", data, len(MAGIC))[1]
    start = len(MAGIC) + 12
    return json.loads(data[start : start + hlen])

def write_state(path, header, stream, raw=None):
    blob = raw if raw is not None else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<IQ", VERSION, len(blob)) + blob + stream)

def zlib_bomb(mib):
    # mib MiB of zeros: one full-flushed deflate block repeated (byte aligned,
    # so it can be repeated) and a correct adler32, built in milliseconds
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = z.compress(bytes(1 << 20)) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(bytes(1 << 20)) + z.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    adler = (mib << 20) % 65521 << 16 | 1  # adler32 of zeros: a stays 1, b counts bytes
    return b"\\x78\\xda" + block * mib + z.flush() + struct.pack(">I", adler)

def rss_mib():
    # the peak of this process since exec (ru_maxrss would start from the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) >> 10

def expect_state_error(path, match):
    try:
        load_state(path)
    except StateError as e:
        assert match in str(e) and "\\n" not in str(e), str(e)
        print("ok:", e)
    else:
        raise AssertionError("loaded")
"""


def run_limited(body: str, tmp_path, address_space: int | None = None) -> str:
    """Run PRELUDE + body in a fresh interpreter (cwd tmp_path, this worktree's
    vm first), under RLIMIT_AS = address_space if given; return its stdout and
    fail on any traceback."""

    def limit():  # runs in the child before exec
        import resource

        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


def test_a_zlib_bomb_in_a_state_stops_at_the_declared_size_under_1_gib(tmp_path):
    out = run_limited(
        """
        header = valid_state("ok.state")
        write_state("bomb.state", header, zlib_bomb(4096))  # 4 GiB of zeros in 4 MiB
        expect_state_error("bomb.state", "larger than")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith("ok:")


def test_a_valid_state_still_loads_under_the_same_ceiling(tmp_path):
    out = run_limited(
        """
        valid_state("ok.state")
        m = load_state("ok.state").machine(stdout=io.BytesIO())
        assert m.run() == 0
        print("ok")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.strip() == "ok"


def test_json_nested_100_000_deep_is_one_line_under_1_gib(tmp_path):
    out = run_limited(
        """
        write_state("deep.state", None, b"", raw=b"[" * 100_000)
        expect_state_error("deep.state", "damaged or truncated")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith("ok:")


def test_a_three_million_item_region_list_is_one_line_under_1_gib(tmp_path):
    out = run_limited(
        """
        header = valid_state("ok.state")
        header["regions"] = [0] * 3_000_000
        write_state("big.state", header, b"")
        expect_state_error("big.state", "regions")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith("ok:")


def test_a_header_length_past_the_limit_is_refused_without_reading(tmp_path):
    out = run_limited(
        """
        with open("huge.state", "wb") as f:
            f.write(MAGIC + struct.pack("<IQ", VERSION, 1 << 62))
        expect_state_error("huge.state", "more than")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith("ok:")


def test_brk_past_the_heap_limit_is_refused(tmp_path):
    out = run_limited(
        """
        header = valid_state("ok.state")
        header["brk"] = 1 << 50
        write_state("brk.state", header, zlib.compress(b""))
        expect_state_error("brk.state", "outside the heap")
        """,
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith("ok:")


def test_an_image_over_max_image_bytes_is_refused_before_mapping(tmp_path):
    out = run_limited(
        """
        from vm.image import MAX_IMAGE_BYTES
        from vm.memory import ImageTooLarge
        image = assemble([("t.asm", SRC.replace("section .text", "section .bss\\nb: resb 16\\nsection .text"))])
        image.sections[".bss"].size = MAX_IMAGE_BYTES  # with .text and .data: one page too many
        try:
            Machine(image)
        except ImageTooLarge as e:
            assert "MAX_IMAGE_BYTES" in str(e) and "\\n" not in str(e)
            print("ok:", e)
        """,
        tmp_path,
        address_space=GIB,  # mapping it would need more than this
    )
    assert out.startswith("ok:")


def test_bss_at_the_limit_costs_no_memory_until_written(tmp_path):
    out = run_limited(
        """
        from vm.image import MAX_IMAGE_BYTES
        image = assemble([("t.asm", SRC.replace("section .text", "section .bss\\nb: resb 16\\nsection .text"))])
        bss = image.sections[".bss"]
        bss.size = MAX_IMAGE_BYTES - sum(s.size for s in image.sections.values() if s is not bss)
        before = rss_mib()
        m = Machine(image, stdout=io.BytesIO())
        m.mem.write(bss.addr + bss.size - 8, b"lastpage")  # the far end is mapped and writable
        assert m.run() == 0
        print(rss_mib() - before)
        """,
        tmp_path,
    )
    assert int(out) < 64  # MiB, for a 1 GiB .bss


def test_zero_pages_of_data_are_not_copied_into_the_mapping(tmp_path):
    out = run_limited(
        """
        image = assemble([("t.asm", SRC)])
        data = image.sections[".data"]
        data.data = bytearray(256 << 20)  # 256 MiB of initialised zeros
        data.data[-1] = 7
        data.size = len(data.data)
        before = rss_mib()
        m = Machine(image, stdout=io.BytesIO())
        assert m.mem.read(data.addr + data.size - 1, 1) == b"\\x07"
        print(rss_mib() - before)
        """,
        tmp_path,
    )
    assert int(out) < 64  # MiB: only the last chunk was copied


def test_debug_with_a_malformed_state_is_one_line(tmp_path):
    state = tmp_path / "bad.state"
    run_limited(
        """
        header = valid_state("ok.state")
        header["registers"]["gpr"] = [0] * 3
        write_state("bad.state", header, b"")
        """,
        tmp_path,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "debug", "--state", str(state), "--root", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"mnist-vm debug: {state}: bad header: registers.gpr: expected a list of 16 items, "
        "found [0, 0, 0]"
    ]


# a straight-line program of n instructions, a third each of register, immediate
# and memory operands (what an instruction-dense program costs per instruction)
DENSE = """
import random
def dense(n):
    rnd = random.Random(2)
    regs = ["rax", "rbx", "rcx", "rdx"]
    ops = ["add", "sub", "xor", "mov", "and", "or", "cmp"]
    lines = ["global _start", "section .data", "buf: times 64 dq 0", "section .text", "_start:"]
    lines.append("    lea rsi, [rel buf]")
    for i in range(n):
        src = [rnd.choice(regs + ["rdi", "r8"]), rnd.randrange(1, 1 << 20), f"[rsi + {8 * (i % 64)}]"]
        lines.append(f"    {rnd.choice(ops)} {rnd.choice(regs)}, {src[i % 3]}")
    return "\\n".join(lines + ["    mov eax, 60", "    xor edi, edi", "    syscall", ""])
"""


def test_the_item_past_max_items_is_one_error_at_its_line_naming_the_limit(tmp_path):
    out = run_limited(
        DENSE
        + textwrap.dedent(
            """
        from vm.asm import limits
        limits.MAX_ITEMS = 30_000
        # 5,000 lines of a label and data (2 items each), _start, then instructions:
        # the 20,000th instruction is item 30,001
        data = "".join(f"d{i}: dd {i}\\n" for i in range(5000))
        src = "global _start\\nsection .data\\n" + data + "section .text\\n_start:\\n"
        src += "    nop\\n" * 20_100
        try:
            assemble([("dense.asm", src)])
        except Exception as e:
            first = str(e).splitlines()[0]
            assert type(e).__name__ == "AsmError", first
            print(first)
        """
        ),
        tmp_path,
        address_space=GIB,
    )
    assert out.startswith(
        f"dense.asm:{2 + 5000 + 2 + 20_000}:5: error: the program has more than 30,000"
    )
    assert "MAX_ITEMS" in out


def test_instruction_dense_programs_at_max_items_stay_under_the_documented_memory(tmp_path):
    # the memory of a 60,000-instruction program, per instruction, times the
    # limit: the cost of a program at MAX_ITEMS (docs/assembler.md says about
    # 320 MiB to assemble and list it and 580 MiB to run it; the test allows
    # 20% more, the measured cost of a 5 MB source once was 1 KiB a line more)
    out = run_limited(
        DENSE
        + textwrap.dedent(
            """
        from vm.asm import limits, listing_lines
        n = 60_000
        src = dense(n)
        base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() >> 20
        image = assemble([("dense.asm", src)])
        assert len(image.insns) == n + 4
        for line in listing_lines(image):
            pass
        listed = rss_mib()
        assert Machine(image, stdout=io.BytesIO()).run() == 0
        ran = rss_mib()
        scale = limits.MAX_ITEMS / n
        print(base + (listed - base) * scale, base + (ran - base) * scale)
        """
        ),
        tmp_path,
    )
    asm_mib, exec_mib = map(float, out.split())
    assert asm_mib < 384 and exec_mib < 700, (asm_mib, exec_mib)
