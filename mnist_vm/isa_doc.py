"""`mnist-vm isa`: the instruction reference, generated from the one table."""

from __future__ import annotations

from vm.isa import TABLE, InsnDef

GROUP_TITLES = {
    "integer": "Integer",
    "control": "Control flow",
    "string": "String instructions (with rep/repe/repne)",
    "sse": "SSE / SSE2 / SSE3",
    "sse-int": "SSE2 / SSE4.1 packed integer",
    "avx": "AVX / AVX2 (VEX: three operands, upper bits zeroed)",
    "fma": "FMA3 (fused multiply-add, one rounding)",
    "avx512": "AVX-512 (zmm, no masking)",
    "system": "System",
}
FLAG_NAMES = {"C": "CF", "P": "PF", "Z": "ZF", "S": "SF", "O": "OF"}


def definitions() -> list[InsnDef]:
    """Each definition once (aliases share one), in table order, users' only."""
    seen, out = set(), []
    for d in TABLE.values():
        if id(d) in seen or d.group == "internal":
            continue
        seen.add(id(d))
        out.append(d)
    return out


def _flags(s: str) -> str:
    return " ".join(FLAG_NAMES[c] for c in s) or "-"


def entry_text(d: InsnDef) -> str:
    lines = [
        f"{d.mnemonic}" + (f"  (aliases: {', '.join(d.aliases)})" if d.aliases else ""),
        f"  {d.doc}",
    ]
    lines.append(
        "  forms:   " + "\n           ".join(f"{d.mnemonic} {f}".rstrip() for f in d.forms)
    )
    if d.flags_read:
        lines.append(f"  reads:   {_flags(d.flags_read)}")
    written = "".join(c for c in d.flags_written if c not in d.flags_undefined)
    lines.append(
        f"  flags:   {_flags(written) if written else 'unchanged'}"
        + (f"; undefined: {_flags(d.flags_undefined)}" if d.flags_undefined else "")
    )
    if d.implicit:
        lines.append(f"  uses:    {d.implicit}")
    if d.align < 0:
        lines.append("  memory:  a memory operand must be aligned to its size (16, 32 or 64 bytes)")
    elif d.align:
        lines.append(f"  memory:  a 128-bit memory operand must be {d.align}-byte aligned")
    cpuid = d.cpuid or None
    if cpuid:  # the CPU feature each form needs natively (the VM runs them all)
        short = {form: form.split(",")[0] for form in cpuid}  # the destination's width
        if len({(short[f], flag) for f, flag in cpuid.items()}) > len(set(short.values())):
            short = {form: form for form in cpuid}  # one width, two features: whole forms
        by_flag: dict[str, list[str]] = {}
        for form, flag in cpuid.items():
            by_flag.setdefault(flag, []).append(short[form])
        lines.append(
            "  cpu:     "
            + "; ".join(f"{flag} ({', '.join(dict.fromkeys(fs))})" for flag, fs in by_flag.items())
        )
    if d.exact is not None:
        lines.append(
            "  mxcsr:   rounds by MXCSR.RC, honours DAZ/FTZ and raises its exception flags "
            "(programs that use ldmxcsr/stmxcsr; docs/machine.md)"
        )
    elif d.mxcsr:
        lines.append(f"  mxcsr:   {d.mxcsr}s MXCSR (the program runs in MXCSR-exact mode)")
    if d.notes:
        lines.append(f"  note:    {d.notes}")
    return "\n".join(lines)


def reference_text() -> str:
    out = ["mnist-vm instruction reference (generated from vm/isa)", ""]
    defs = definitions()
    for group, title in GROUP_TITLES.items():
        members = [d for d in defs if d.group == group]
        if not members:
            continue
        out.append(f"== {title} ({len(members)}) ==")
        for d in members:
            if d.cond and d.cond != "o":
                continue  # a condition family (jCC, setCC, cmovCC) gets one entry
            out.append(_family_text(d) if d.cond else entry_text(d))
            out.append("")
    return "\n".join(out)


def _family_prefix(d: InsnDef) -> str:
    """The mnemonic without its condition code (jcc -> j), "" outside the families."""
    return d.mnemonic[: -len(d.cond)] if d.cond else ""


def _family_text(d: InsnDef) -> str:
    prefix = _family_prefix(d)
    members = [x for x in definitions() if x.cond and _family_prefix(x) == prefix]
    names = ", ".join(
        x.mnemonic + ("/" + "/".join(x.aliases) if x.aliases else "") for x in members
    )
    return (
        f"{prefix}CC  ({len(members)} condition codes)\n  {d.doc.split(' if ')[0]} if the "
        f"condition holds.\n  forms:   {prefix}CC "
        + ", ".join(str(f) for f in d.forms)
        + f"\n  codes:   {names}"
    )


def lookup_text(name: str) -> str | None:
    d = TABLE.get(name.lower())
    if d is None or d.group == "internal":
        return None
    return entry_text(d)


def suggestions(name: str) -> list[str]:
    import difflib

    return difflib.get_close_matches(
        name.lower(), [k for k, d in TABLE.items() if d.group != "internal"], n=3
    )


def markdown() -> str:
    """docs/isa.md: the same reference as `mnist-vm isa`, for reading on the web.
    Regenerate with `python -m mnist_vm.isa_doc > docs/isa.md` (a test checks it)."""
    text = reference_text()
    body = text.split("\n", 2)[2]
    out = [
        "# Instruction reference",
        "",
        "Generated from the instruction table (`vm/isa/`) by `python -m mnist_vm.isa_doc`; "
        "`mnist-vm isa MNEMONIC` prints one entry. Flags: CF PF ZF SF OF; 'undefined' "
        "flags are those Intel leaves undefined (the VM gives them a fixed, documented "
        "value: see docs/machine.md).",
        "",
    ]
    for part in body.split("== ")[1:]:
        title, _, entries = part.partition(" ==\n")
        out += [f"## {title}", "", "```", entries.strip("\n"), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
