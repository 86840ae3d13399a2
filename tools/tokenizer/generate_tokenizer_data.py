#!/usr/bin/env python3
"""Writes the data files that Spright.Diffusion's CLIP tokenizer embeds.

Run with the interpreter whose behaviour the tokenizer reproduces: CPython 3.11 (unicodedata 14.0.0),
the `regex` module of Debian bookworm (python3-regex 0.1.20221031, Unicode 15.0) and ftfy 6.3.1 importable:

    PYTHONPATH=<dir with regex>:<dir with ftfy> python3 tools/tokenizer/generate_tokenizer_data.py

Only character properties and lookup tables are written (no code). The output is deterministic.
"""
import html
import html.entities
import os
import re
import sys
import unicodedata

import regex

import ftfy
from ftfy import badness, chardata

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "src", "Spright.Diffusion", "Tokenization", "Data")
MAX = 0x110000


def code_points():
    return (cp for cp in range(MAX) if not 0xD800 <= cp <= 0xDFFF)


def ranges(pred):
    out, start, prev = [], None, None
    for cp in range(MAX):
        ok = pred(cp)
        if ok and start is None:
            start = cp
        if not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, MAX - 1))
    return out


def fmt_ranges(rs):
    return "\n".join(f"{a:X}" if a == b else f"{a:X}-{b:X}" for a, b in rs)


def chars(cp):
    return chr(cp) if not 0xD800 <= cp <= 0xDFFF else None


def unicode_file():
    lines = [
        "# Python 3.11 / unicodedata %s and regex %s (Debian python3-regex 2022.10.31) character data, written by tools/tokenizer/generate_tokenizer_data.py"
        % (unicodedata.unidata_version, regex.__version__)
    ]
    # General category runs (surrogates are Cs).
    lines.append("@category")
    prev = None
    for cp in range(MAX):
        cat = "Cs" if 0xD800 <= cp <= 0xDFFF else unicodedata.category(chr(cp))
        if cat != prev:
            lines.append(f"{cp:X} {cat}")
            prev = cat
    lines.append("@isspace")
    lines.append(fmt_ranges(ranges(lambda cp: chars(cp) is not None and chr(cp).isspace())))
    lines.append("@re_word")
    word = re.compile(r"\w")
    lines.append(fmt_ranges(ranges(lambda cp: chars(cp) is not None and word.fullmatch(chr(cp)) is not None)))
    lines.append("@re_digit")
    digit = re.compile(r"\d")
    lines.append(fmt_ranges(ranges(lambda cp: chars(cp) is not None and digit.fullmatch(chr(cp)) is not None)))
    # str.lower() outside the final-sigma context.
    lines.append("@lower")
    for cp in code_points():
        low = chr(cp).lower()
        if low != chr(cp):
            lines.append(f"{cp:X} " + " ".join(f"{ord(c):X}" for c in low))
    # Case_Ignorable and Cased as str.lower() sees them, probed through its final-sigma rule.
    sigma = "\u03a3"

    def case_ignorable(cp):
        c = chars(cp)
        return c is not None and ("A" + c + sigma).lower()[-1] == "\u03c2" and (c + sigma).lower()[-1] == "\u03c3"

    def cased(cp):
        c = chars(cp)
        return c is not None and not case_ignorable(cp) and (c + sigma).lower()[-1] == "\u03c2"

    lines.append("@case_ignorable")
    lines.append(fmt_ranges(ranges(case_ignorable)))
    lines.append("@cased")
    lines.append(fmt_ranges(ranges(cased)))
    lines.append("@ccc")
    prev = 0
    for cp in range(MAX):
        ccc = unicodedata.combining(chr(cp)) if chars(cp) is not None else 0
        if ccc != prev:
            lines.append(f"{cp:X} {ccc}")
            prev = ccc
    lines.append("@decomposition")
    for cp in code_points():
        d = unicodedata.decomposition(chr(cp))
        if d:
            parts = d.split()
            kind = "k" if parts[0].startswith("<") else "c"
            if kind == "k":
                parts = parts[1:]
            lines.append(f"{cp:X} {kind} " + " ".join(parts))
    lines.append("@composition")
    for cp in code_points():
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = [int(p, 16) for p in d.split()]
            if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp):
                lines.append(f"{parts[0]:X} {parts[1]:X} {cp:X}")
    # CLIP's pattern classes as the regex module matches them with IGNORECASE.
    letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    space = regex.compile(r"\s", regex.IGNORECASE)
    lines.append("@regex_class")
    prev = None
    for cp in range(MAX):
        c = chars(cp)
        if c is None:
            cls = "O" if other.fullmatch(chr(cp)) else "-"
        elif letter.fullmatch(c):
            cls = "L"
        elif number.fullmatch(c):
            cls = "N"
        elif other.fullmatch(c):
            cls = "O"
        else:
            cls = "-"
        if cls != prev:
            lines.append(f"{cp:X} {cls}")
            prev = cls
    lines.append("@regex_space")
    lines.append(fmt_ranges(ranges(lambda cp: chars(cp) is not None and space.fullmatch(chr(cp)) is not None)))
    lines.append("@regex_ignorecase")
    for ch in sorted(set("startoftexndlvm")):
        pat = regex.compile(regex.escape(ch), regex.IGNORECASE)
        eq = [cp for cp in code_points() if pat.fullmatch(chr(cp))]
        lines.append(ch + " " + " ".join(f"{cp:X}" for cp in eq))
    return "\n".join(lines) + "\n"


def class_ranges(class_text):
    pat = re.compile("[" + class_text + "]")
    return ranges(lambda cp: chars(cp) is not None and pat.fullmatch(chr(cp)) is not None)


def ftfy_file():
    lines = ["# ftfy %s character tables and codecs (CPython %s), written by tools/tokenizer/generate_tokenizer_data.py"
             % (ftfy.__version__, sys.version.split()[0])]
    encodings = list(chardata.CHARMAP_ENCODINGS) + ["windows-1252"]
    for enc in encodings:
        lines.append("@codec " + enc)
        row = []
        for b in range(256):
            try:
                row.append(f"{ord(bytes([b]).decode(enc)):X}")
            except UnicodeDecodeError:
                row.append("-")
        for i in range(0, 256, 16):
            lines.append(" ".join(row[i:i + 16]))
    for name, text in badness.MOJIBAKE_CATEGORIES.items():
        lines.append("@set " + name)
        lines.append(fmt_ranges(class_ranges(text)))
    for name, text in chardata.UTF8_CLUES.items():
        lines.append("@set " + name)
        lines.append(fmt_ranges(class_ranges(text)))
    lines.append("@entities")
    for name in sorted(chardata.HTML_ENTITIES):
        value = chardata.HTML_ENTITIES[name]
        lines.append(name + " " + " ".join(f"{ord(c):X}" for c in value))
    lines.append("@charref_replacements")
    for num in sorted(html._invalid_charrefs):
        lines.append(f"{num:X} " + " ".join(f"{ord(c):X}" for c in html._invalid_charrefs[num]))
    lines.append("@charref_removed")
    lines.append(fmt_ranges(ranges(lambda cp: cp in html._invalid_codepoints)))
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "python-unicode.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(unicode_file())
    with open(os.path.join(OUT, "ftfy-tables.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(ftfy_file())


if __name__ == "__main__":
    main()
