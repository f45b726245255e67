"""State files are untrusted input: every malformed header is one StateError
line, a state never opens host files it names, memory is inflated only as far
as the header declares, and states of both register-file widths load."""

from __future__ import annotations

import builtins
import copy
import io
import json
import os
import struct
import zlib

import pytest
from debugger_programs import divide_under_mxcsr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vm import Fault, Machine, assemble
from vm import schema as S
from vm.state import HEADER, MAGIC, VERSION, StateError, load_state, save_state

MAIN = """global _start
%include "defs.inc"
section .data
msg: db "hello", 10
section .bss
buf: resb 4096
section .text
_start:
    mov rbx, VALUE
    mov eax, 12
    xor edi, edi
    syscall
    lea rdi, [rax + 8192]
    mov eax, 12
    syscall
    mov r12, 0x1122334455667788
    movq xmm3, r12
    mov qword [rel buf], r12
    mov eax, 60
    xor edi, edi
    syscall
"""
DEFS = "VALUE equ 1234\n"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(bytes of a valid state file, its header) for a program with an %include,
    saved mid-run with a grown heap; the source files are gone afterwards."""
    d = tmp_path_factory.mktemp("prog")
    (d / "main.asm").write_text(MAIN)
    (d / "defs.inc").write_text(DEFS)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        image = assemble(["main.asm"])
    finally:
        os.chdir(cwd)
    (d / "main.asm").unlink()
    (d / "defs.inc").unlink()
    m = Machine(image, stdout=io.BytesIO())
    with pytest.raises(Fault, match="step limit"):
        m.run(max_steps=10)  # stopped before the exit
    path = d / "ok.state"
    save_state(m, path, meta={"note": "test"})
    data = path.read_bytes()
    return data, split(data)[0]


def split(data: bytes) -> tuple[dict, bytes]:
    hlen = struct.unpack_from("<IQ", data, len(MAGIC))[1]
    start = len(MAGIC) + 12
    return json.loads(data[start : start + hlen]), data[start + hlen :]


def state_bytes(header, stream: bytes, raw_header: bytes | None = None) -> bytes:
    blob = raw_header if raw_header is not None else json.dumps(header).encode()
    return MAGIC + struct.pack("<IQ", VERSION, len(blob)) + blob + stream


def load_bytes(tmp_path, data: bytes):
    path = tmp_path / "x.state"
    path.write_bytes(data)
    return load_state(path)


def assert_one_line_error(tmp_path, data: bytes, match: str = "") -> str:
    with pytest.raises(StateError) as info:
        load_bytes(tmp_path, data)
    text = str(info.value)
    assert "\n" not in text, text
    assert match in text, text
    return text


def test_a_state_loads_without_its_source_files_and_restores_everything(tmp_path, saved):
    data, header = saved
    st_ = load_bytes(tmp_path, data)
    m = st_.machine(stdout=io.BytesIO())
    assert m.r[3] == 1234 and m.r[12] == 0x1122334455667788
    assert m.mem.brk == header["brk"] and m.mem.brk > m.mem.brk_start
    assert m.mem.read(m.image.symbols["buf"].value, 8) == (0x1122334455667788).to_bytes(8, "little")
    assert m.xq[6] == 0x1122334455667788  # xmm3 low lane
    assert m.run() == 0


def _mutate(header, path, value):
    h = copy.deepcopy(header)
    node = h
    for k in path[:-1]:
        node = node[k]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return h


class _Delete:
    """Marks a key to remove (its repr is stable, so xdist workers agree on test ids)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()
MALFORMED = [
    (("regions",), "x"),
    (("regions",), None),
    (("regions",), [[1]]),
    (("regions",), [["a", "b"]]),
    (("regions",), [[2, 1]]),
    (("regions",), []),
    (("brk",), "x"),
    (("brk",), float("nan")),
    (("brk",), 1 << 50),
    (("brk",), -1),
    (("brk",), True),
    (("registers", "gpr"), [0] * 3),
    (("registers", "gpr"), [0] * 15 + [1 << 64]),
    (("registers", "gpr"), [0.5] * 16),
    (("registers", "xmm"), "00" * 10),
    (("registers", "xmm"), "0" * 511),
    (("registers", "xmm"), "zz" * 256),
    (("registers", "xmm"), 7),
    (("registers", "rip"), None),
    (("registers",), []),
    (("program",), ["main.asm"]),
    (("program", "files"), 5),
    (("program", "files"), []),
    (("program", "files"), ["/dev/zero"]),
    (("program", "files"), ["/etc/shadow"]),
    (("program", "sources"), {"main.asm": 5}),
    (("program", "defines"), {"A": [1]}),
    (("program", "fingerprint"), "abc"),
    (("program", "fingerprint"), "0" * 64),
    (("icount",), -5),
    (("exit_status",), 300),
    (("open_files",), {"a": 1}),
    (("meta",), []),
    (("version",), 2),
    (("format",), "something else"),
    (("registers",), DELETE),
    (("brk",), DELETE),
    (("program", "sources"), DELETE),
    (("regions",), DELETE),
    (("mmaps",), [[0x10401000, 0x10401800]]),  # not page-aligned
    (("mmaps",), [[0x1000, 0x2000]]),  # below the break
    (("mmaps",), [[1 << 40, (1 << 40) + 4096]]),  # past the heap limit
    (("mmaps",), [[0x10402000, 0x10403000], [0x10401000, 0x10402000]]),  # not sorted
    (("mmaps",), [[0x10401000, 0x10401000]]),  # empty
    (("mmaps",), "x"),
    (("registers", "mxcsr"), 1 << 16),  # a reserved bit: ldmxcsr would #GP
    (("registers", "mxcsr"), -1),
    (("registers", "mxcsr"), "0x1F80"),
]


@pytest.mark.parametrize("path, value", MALFORMED, ids=lambda x: repr(x)[:30])
def test_every_malformed_header_is_one_stateerror_line(tmp_path, saved, path, value):
    data, header = saved
    assert_one_line_error(tmp_path, state_bytes(_mutate(header, path, value), split(data)[1]))


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"a":' * 100_000, b"[]", b"null", b"\xff\xfe", b"{", b"1" * 5000],
    ids=["deep-list", "deep-object", "list", "null", "not-utf8", "cut", "huge-number"],
)
def test_headers_that_are_not_a_json_object_are_one_line(tmp_path, raw):
    assert_one_line_error(tmp_path, state_bytes(None, b"", raw_header=raw))


def test_a_header_length_past_the_limit_is_refused_before_reading(tmp_path):
    data = MAGIC + struct.pack("<IQ", VERSION, 1 << 62)
    assert_one_line_error(tmp_path, data, "more than")


def test_brk_far_past_the_heap_is_a_clear_error(tmp_path, saved):
    data, header = saved
    bad = _mutate(header, ("brk",), 1 << 50)
    assert_one_line_error(tmp_path, state_bytes(bad, split(data)[1]), "brk")


def test_files_named_in_a_state_are_never_opened(tmp_path, saved):
    data, header = saved
    for name in ("/dev/zero", "/dev/stdin", "/etc/passwd"):
        bad = _mutate(header, ("program", "files"), [name])
        bad["program"]["sources"].pop(name, None)
        assert_one_line_error(tmp_path, state_bytes(bad, split(data)[1]), "not among its sources")


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/stdin", "/dev/zero", "../defs.inc"])
def test_an_include_outside_the_carried_sources_is_not_read(tmp_path, saved, target):
    data, header = saved
    bad = copy.deepcopy(header)
    bad["program"]["sources"]["main.asm"] = f'%include "{target}"\n' + MAIN
    with pytest.raises(StateError) as info:
        load_bytes(tmp_path, state_bytes(bad, split(data)[1]))
    text = str(info.value)
    assert "not among the sources the state carries" in text or "cannot find" in text, text
    assert "root:" not in text  # /etc/passwd's first line never shows


@pytest.mark.parametrize(
    "change",
    [
        ("files", ["/etc/passwd"]),
        ("source", '%include "/etc/passwd"\n'),
        ("source", 'section .data\nincbin "/etc/passwd"\n'),
        ("source", '%include "../../../../../../etc/passwd"\n'),
    ],
    ids=["files", "include", "incbin", "include-relative"],
)
def test_loading_opens_no_host_file_but_the_state(tmp_path, saved, monkeypatch, change):
    data, header = saved
    bad = copy.deepcopy(header)
    kind, value = change
    if kind == "files":
        bad["program"]["files"] = value
    else:
        bad["program"]["sources"]["main.asm"] = value + MAIN
    path = tmp_path / "x.state"
    path.write_bytes(state_bytes(bad, split(data)[1]))
    opened = []
    real_open, real_os_open = builtins.open, os.open
    monkeypatch.setattr(
        builtins, "open", lambda f, *a, **k: opened.append(f) or real_open(f, *a, **k)
    )
    monkeypatch.setattr(os, "open", lambda f, *a, **k: opened.append(f) or real_os_open(f, *a, **k))
    with pytest.raises(StateError):
        load_state(path)
    assert [os.fspath(f) for f in opened] == [os.fspath(path)]


def test_a_zlib_bomb_stops_at_the_declared_size(tmp_path, saved):
    data, header = saved
    z = zlib.compressobj(9)
    bomb = b"".join(z.compress(bytes(1 << 20)) for _ in range(256)) + z.flush()  # 256 MiB
    assert_one_line_error(tmp_path, state_bytes(header, bomb), "larger than")


def test_a_short_or_trailing_memory_stream_is_refused(tmp_path, saved):
    data, header = saved
    stream = split(data)[1]
    assert_one_line_error(tmp_path, state_bytes(header, stream[:-10]), "damaged or truncated")
    short = zlib.compress(b"\0" * 100)
    assert_one_line_error(tmp_path, state_bytes(header, short), "the header says")


MMAP = """global _start
section .text
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 8192
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov qword [rbx + 4096], 77
    mov rcx, [rbx + 4096]
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_anonymous_mappings_are_saved_and_restored(tmp_path):
    m = Machine(assemble([("m.asm", MMAP)]), stdout=io.BytesIO())
    with pytest.raises(Fault, match="step limit"):
        m.run(max_steps=10)  # mapped and written, not yet read back
    assert m.mem.mmaps
    save_state(m, tmp_path / "m.state")
    m2 = load_state(tmp_path / "m.state").machine(stdout=io.BytesIO())
    assert m2.mem.mmaps == m.mem.mmaps
    assert m2.run() == 0 and m2.r[1] == 77


def test_a_state_without_mmaps_loads(tmp_path, saved):
    data, header = saved
    h = _mutate(header, ("mmaps",), DELETE)
    assert load_bytes(tmp_path, state_bytes(h, split(data)[1])).machine().mem.mmaps == []


def test_old_and_wide_vector_register_files_both_load(tmp_path, saved):
    data, header = saved
    stream = split(data)[1]
    wide = bytes(range(256)) * 8  # 2048 bytes: 32 x 64-byte registers
    for xmm in (wide[:256], wide[:256] + bytes(2048 - 256)):
        h = _mutate(header, ("registers", "xmm"), xmm.hex())
        m = load_bytes(tmp_path, state_bytes(h, stream)).machine(stdout=io.BytesIO())
        assert bytes(m.xb[:256]) == wide[:256] and not any(m.xb[256:])
    h = _mutate(header, ("registers", "xmm"), wide.hex())
    st_ = load_bytes(tmp_path, state_bytes(h, stream))
    m = Machine(st_.image, stdout=io.BytesIO())
    if len(m.xb) >= 2048:
        st_.restore_into(m)
        assert bytes(m.xb[:2048]) == wide
    else:  # a machine with 16 xmm registers cannot hold what the state says
        with pytest.raises(StateError, match="wider"):
            st_.restore_into(m)


# ---------------------------------------------------------------------------
# schema-driven fuzzing: replace any value the schema describes by values of
# every kind (in range, at the edges, of the wrong type); loading either
# succeeds or is one StateError line


def _paths(node, prefix=()):
    """Every key path the schema describes (list items and map entries by index 0)."""
    yield prefix
    if isinstance(node, S.Obj):
        for k, child in (node.fields | node.optional).items():
            yield from _paths(child, prefix + (k,))


def _edge_values(node) -> list:
    if isinstance(node, S.Int):
        return [node.lo, node.hi, node.lo - 1, node.hi + 1]
    if isinstance(node, S.Hex):
        return ["0" * n for n in node.lengths] + ["0" * (node.lengths[0] - 1)]
    if isinstance(node, S.List):
        return [[], [None] * node.min_len]
    if isinstance(node, S.Const):
        return [node.value]
    return []


SCHEMA_PATHS = [p for p in _paths(HEADER) if p]


def _json_containers(inner):
    """Lists and objects of `inner` (a named function: hypothesis misreads the
    multi-line lambda's source and warns that it does not recurse)."""
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    _json_containers,
    max_leaves=8,
)


def _node_at(path):
    node = HEADER
    for k in path:
        node = (node.fields | node.optional)[k]
    return node


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_headers_load_or_give_one_stateerror_line(tmp_path, saved, data):
    raw, header = saved
    stream = split(raw)[1]
    h = copy.deepcopy(header)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(SCHEMA_PATHS))
        edges = _edge_values(_node_at(path))
        value = data.draw(JSON | st.sampled_from(edges) if edges else JSON)
        if data.draw(st.booleans()) and len(path) == 1:
            value = DELETE
        try:
            h = _mutate(h, path, value)
        except (KeyError, TypeError):
            pass  # an earlier mutation removed or replaced the parent
    try:
        load_bytes(tmp_path, state_bytes(h, stream))
    except StateError as e:
        assert "\n" not in str(e) or "no longer assembles" in str(e)


# ---- incbin: a state carries the bytes the program included ----------------------------
INCBIN = """global _start
section .data
head: incbin "blob.bin", 1, 5
all: incbin "blob.bin"
section .text
_start:
    movzx ebx, byte [rel head + 3]
    movzx r12d, byte [rel all + 9]
    mov eax, 60
    xor edi, edi
    syscall
"""
BLOB = b"ABC\x00\xff\x80xyz\x07"


@pytest.fixture(scope="module")
def saved_incbin(tmp_path_factory):
    """(bytes of a state of a program with two incbin lines, its header); the
    included file is gone afterwards."""
    d = tmp_path_factory.mktemp("incbin")
    (d / "main.asm").write_text(INCBIN)
    (d / "blob.bin").write_bytes(BLOB)
    image = assemble([str(d / "main.asm")])
    (d / "blob.bin").unlink()
    (d / "main.asm").unlink()
    m = Machine(image, stdout=io.BytesIO())
    save_state(m, d / "ok.state")
    data = (d / "ok.state").read_bytes()
    return data, split(data)[0]


def test_a_state_carries_incbin_bytes_and_loads_without_the_file(tmp_path, saved_incbin):
    data, header = saved_incbin
    binaries = header["program"]["binaries"]
    assert [(b["skip"], b["count"]) for b in binaries] == [(1, 5), (0, None)]
    st_ = load_bytes(tmp_path, data)
    m = st_.machine(stdout=io.BytesIO())
    assert m.mem.read(m.image.symbols["all"].value, len(BLOB)) == BLOB
    assert m.run() == 0 and m.r[3] == 0xFF and m.r[12] == 0x7
    # and a state saved from the loaded machine carries them again
    save_state(m, tmp_path / "again.state")
    assert split((tmp_path / "again.state").read_bytes())[0]["program"]["binaries"] == binaries


def _binary(header, **change):
    h = copy.deepcopy(header)
    record = h["program"]["binaries"][0]
    for k, v in change.items():
        if v is DELETE:
            del record[k]
        else:
            record[k] = v
    return h


@pytest.mark.parametrize(
    "change, match",
    [
        ({"data": "not base64!"}, "program.binaries[0].data: expected base64"),
        ({"data": "QUJD="}, "expected base64"),  # bad padding
        ({"data": 5}, "expected base64"),
        ({"data": "A" * (4 * (33 << 20) // 3)}, "expected base64 of at most"),
        ({"skip": -1}, "program.binaries[0].skip"),
        ({"skip": "1"}, "program.binaries[0].skip"),
        ({"count": 1.5}, "program.binaries[0].count"),
        ({"file": None}, "program.binaries[0].file"),
        ({"data": DELETE}, "program.binaries[0].data: missing"),
        ({"data": "QkMA/4A="[:4] + "AAAA"}, "differs from the one that was saved"),  # other bytes
        ({"count": 4}, "not among the files the state carries"),  # no record for this line
        ({"file": "/etc/passwd"}, "not among the files the state carries"),
    ],
    ids=lambda x: repr(x)[:30],
)
def test_malformed_incbin_records_are_one_stateerror_line(tmp_path, saved_incbin, change, match):
    data, header = saved_incbin
    bad = _binary(header, **change)
    with pytest.raises(StateError) as info:
        load_bytes(tmp_path, state_bytes(bad, split(data)[1]))
    text = str(info.value)
    assert match in text and "root:" not in text, text
    # one line, or (an assembler error) the first line and the error at the incbin line
    assert "\n" not in text or text.splitlines()[0].endswith("no longer assembles:"), text


@pytest.mark.parametrize(
    "binaries, match",
    [
        ("x", "program.binaries: expected a list"),
        ([[1]], "program.binaries[0]: expected an object"),
        ([{"file": "a", "skip": 0, "count": None, "data": ""}] * 10_001, "program.binaries"),
    ],
    ids=["string", "list", "too-many"],
)
def test_malformed_incbin_lists_are_one_stateerror_line(tmp_path, saved_incbin, binaries, match):
    data, header = saved_incbin
    bad = _mutate(header, ("program", "binaries"), binaries)
    assert_one_line_error(tmp_path, state_bytes(bad, split(data)[1]), match)


def test_incbin_bytes_past_the_carried_limit_are_refused_in_total(tmp_path, saved_incbin):
    data, header = saved_incbin
    big = {"file": "x.bin", "skip": 0, "count": None, "data": "A" * (4 * ((20 << 20) // 3))}
    bad = _mutate(header, ("program", "binaries"), header["program"]["binaries"] + [big, big])
    assert_one_line_error(tmp_path, state_bytes(bad, split(data)[1]), "more than 33,554,432")


def test_a_program_including_more_than_a_state_carries_is_not_saved(tmp_path):
    (tmp_path / "big.bin").write_bytes(bytes((32 << 20) + 1))
    src = INCBIN.replace('"blob.bin"', f'"{tmp_path / "big.bin"}"')
    m = Machine(assemble([("big.asm", src)]), stdout=io.BytesIO())
    with pytest.raises(
        StateError,
        match="cannot save the state: the program includes 33,554,438 bytes with 2 different",
    ):
        save_state(m, tmp_path / "big.state")
    assert not any(p.suffix == ".state" or ".tmp" in p.name for p in tmp_path.iterdir())


MXCSR_PROGRAM = divide_under_mxcsr(0x7F80, "    movd edi, xmm0\n    and edi, 1\n")


def test_mxcsr_is_saved_and_restored_with_its_flags(tmp_path):
    """ldmxcsr [toward zero] then 1/3 (inexact): the state carries MXCSR with
    PE, and the restored machine goes on rounding toward zero."""
    m = Machine(assemble([("m.asm", MXCSR_PROGRAM)]), stdout=io.BytesIO())
    m.step()
    m.mxcsr |= 0x20  # a sticky flag set before the save
    save_state(m, tmp_path / "m.state")
    m2 = load_state(tmp_path / "m.state").machine(stdout=io.BytesIO())
    assert m2.mxcsr == 0x7FA0 and m2.mxcsr_exact
    assert m2.run() == m.run() == 0  # 1/3 toward zero: 0x3EAAAAAA (nearest: ...AB, odd)


def test_a_state_with_a_non_default_mxcsr_runs_mxcsr_exact(tmp_path, saved):
    data, header = saved
    h = _mutate(header, ("registers", "mxcsr"), 0x7F80)
    m = load_bytes(tmp_path, state_bytes(h, split(data)[1])).machine(stdout=io.BytesIO())
    assert m.mxcsr == 0x7F80 and m.mxcsr_exact
    h = _mutate(header, ("registers", "mxcsr"), DELETE)  # an older state: the default
    m = load_bytes(tmp_path, state_bytes(h, split(data)[1])).machine(stdout=io.BytesIO())
    assert m.mxcsr == 0x1F80 and not m.mxcsr_exact
