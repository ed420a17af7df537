#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Keeps docs/qmp-reference.md equal to the generated QMP reference.

    copy-reference.py GENERATED COMMITTED           copy GENERATED over COMMITTED
    copy-reference.py --check GENERATED COMMITTED   fail (with a diff) if they differ

Run through `ninja -C BUILD update-qmp-reference` or
scripts/update-qmp-reference.sh.
"""

import difflib
import shutil
import sys


def main(argv):
    check = argv[:1] == ['--check']
    if check:
        argv = argv[1:]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    generated, committed = argv
    if not check:
        shutil.copyfile(generated, committed)
        print('updated %s' % committed)
        return 0
    with open(generated, encoding='utf-8') as f:
        new = f.read()
    try:
        with open(committed, encoding='utf-8') as f:
            old = f.read()
    except FileNotFoundError:
        old = ''
    if new == old:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(True), new.splitlines(True),
        'docs/qmp-reference.md (committed)', 'generated'))
    print('\ndocs/qmp-reference.md is out of date: the schema or the generator'
          ' changed.\nRefresh it with scripts/update-qmp-reference.sh [BUILD_DIR]'
          '\n(or `ninja -C BUILD_DIR update-qmp-reference`) and commit it.')
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
