#!/usr/bin/env python3
"""The PE step of the researchers' pipeline that scripts/bench compares kbscan with.

Usage: pe_versions.py DIR...   (recursive)

For every file starting with `MZ`, reads the version resource with `pefile` (the usual
`pip install pefile`) and prints one TSV line: path, machine, fixed FileVersion, string
FileVersion. Files pefile cannot parse get an `error` line; the exit code stays 0 so one
bad file does not stop a batch, as in the shell loops this stands in for.
"""

import os
import sys

import pefile


def fixed_version(pe):
    for info in getattr(pe, "VS_FIXEDFILEINFO", None) or []:
        ms, ls = info.FileVersionMS, info.FileVersionLS
        return "%d.%d.%d.%d" % (ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)
    return ""


def string_version(pe):
    for fi in getattr(pe, "FileInfo", None) or []:
        for entry in fi:
            for table in getattr(entry, "StringTable", []) or []:
                value = table.entries.get(b"FileVersion")
                if value is not None:
                    return value.decode("utf-8", "replace")
    return ""


def scan(path, out):
    with open(path, "rb") as f:
        if f.read(2) != b"MZ":
            return
    try:
        pe = pefile.PE(path, fast_load=True)
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]
        )
        out.write(
            "%s\t%#x\t%s\t%s\n"
            % (path, pe.FILE_HEADER.Machine, fixed_version(pe), string_version(pe))
        )
        pe.close()
    except pefile.PEFormatError as e:
        out.write("%s\terror\t%s\n" % (path, e))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out = sys.stdout
    for root in argv[1:]:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                scan(os.path.join(dirpath, name), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
