#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Golden tests of the QAPI generator's front end.

For each test NAME, reads NAME.json with scripts/qapi and compares:
  - the error message with NAME.err (empty: the schema must be accepted),
  - a dump of the accepted schema with NAME.out (empty for bad schemas).

Usage: test-qapi.py [--update] [--dir DIR] NAME...
--update rewrites the expected files from the current results.
"""

import argparse
import difflib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'scripts'))

from qapi.error import QAPIError  # noqa: E402
from qapi.schema import (AlternateType, ArrayType, Command,  # noqa: E402
                         EnumType, Event, ObjectType, QAPISchema)


def _ifcond(ifcond):
    return ['    if %s' % ifcond.docgen()] if ifcond else []


def _features(features, indent='    '):
    out = []
    for f in features:
        out.append('%sfeature %s' % (indent, f.name))
        if f.ifcond:
            out.append('%s    if %s' % (indent, f.ifcond.docgen()))
    return out


def _members(members):
    out = []
    for m in members:
        out.append('    member %s: %s optional=%s' % (m.name, m.type.name,
                                                     m.optional))
        if m.ifcond:
            out.append('        if %s' % m.ifcond.docgen())
        out += _features(m.features, '        ')
    return out


def dump_entity(ent):
    out = []
    if isinstance(ent, EnumType):
        out.append('enum %s' % ent.name)
        for m in ent.members:
            out.append('    member %s' % m.name)
            if m.ifcond:
                out.append('        if %s' % m.ifcond.docgen())
            out += _features(m.features, '        ')
    elif isinstance(ent, ArrayType):
        out.append('array %s %s' % (ent.name, ent.element_type.name))
    elif isinstance(ent, ObjectType):
        out.append('object %s' % ent.name)
        if ent.base:
            out.append('    base %s' % ent.base.name)
        out += _members(ent.local_members)
        if ent.variants:
            out.append('    tag %s' % ent.variants.tag_member.name)
            for b in ent.variants.branches:
                out.append('    case %s: %s' % (b.name, b.type.name))
                if b.ifcond:
                    out.append('        if %s' % b.ifcond.docgen())
    elif isinstance(ent, AlternateType):
        out.append('alternate %s' % ent.name)
        for b in ent.branches:
            out.append('    case %s: %s' % (b.name, b.type.name))
            if b.ifcond:
                out.append('        if %s' % b.ifcond.docgen())
    elif isinstance(ent, Command):
        out.append('command %s %s -> %s' % (
            ent.name, ent.arg_type.name if ent.arg_type else None,
            ent.ret_type.name if ent.ret_type else None))
        out.append('    gen=%s success_response=%s boxed=%s oob=%s'
                   ' preconfig=%s' % (ent.gen, ent.success_response,
                                      ent.boxed, ent.allow_oob,
                                      ent.allow_preconfig))
        if ent.run_states is not None:
            out.append('    run-states %s' % ' '.join(ent.run_states))
    elif isinstance(ent, Event):
        out.append('event %s %s' % (ent.name, ent.arg_type.name
                                    if ent.arg_type else None))
        out.append('    boxed=%s' % ent.boxed)
    if not isinstance(ent, ArrayType):
        out += _ifcond(ent.ifcond)
        out += _features(ent.features)
    return out


def dump_doc(doc):
    out = ['doc %s' % ('symbol=' + doc.symbol if doc.symbol else 'freeform')]
    out += ['    body=', *('        ' + l for l in doc.body.text.split('\n')
                           if doc.body.text)]
    for name, sec in doc.args.items():
        out.append('    arg=%s' % name)
        out += ['        ' + l for l in sec.text.split('\n')]
    for name, sec in doc.features.items():
        out.append('    feature=%s' % name)
        out += ['        ' + l for l in sec.text.split('\n')]
    for sec in doc.sections:
        out.append('    section=%s' % (sec.tag or 'text'))
        out += ['        ' + l for l in sec.text.split('\n')]
    return out


def dump_schema(schema):
    out = []
    module = None
    implicit = list(schema.implicit_object_types())
    for ent in schema.entities + implicit + [
            e for e in schema._implicit if isinstance(e, ArrayType)]:
        if ent.module != module:
            module = ent.module
            out.append('module %s' % module)
        out += dump_entity(ent)
    for doc in schema.docs:
        out += dump_doc(doc)
    return '\n'.join(line.rstrip() for line in out) + '\n'


def run_one(name, update):
    fname = name + '.json'
    out, err = '', ''
    try:
        schema = QAPISchema(fname)
        out = dump_schema(schema)
    except QAPIError as e:
        err = str(e) + '\n'
    ok = True
    for suffix, actual in (('.err', err), ('.out', out)):
        path = name + suffix
        try:
            with open(path, encoding='utf-8') as f:
                expected = f.read()
        except FileNotFoundError:
            expected = ''
        if actual == expected:
            continue
        if update:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(actual)
            print('%s: updated' % path)
            continue
        ok = False
        print('%s: differs from the expected result:' % path)
        sys.stdout.writelines(difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True),
            'expected/' + path, 'actual/' + path))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--update', action='store_true')
    parser.add_argument('--dir', default=os.path.dirname(
        os.path.abspath(__file__)))
    parser.add_argument('names', nargs='+')
    args = parser.parse_args()
    os.chdir(args.dir)
    ok = True
    for name in args.names:
        name = name[:-5] if name.endswith('.json') else name
        ok = run_one(name, args.update) and ok
    if not ok:
        print('(if the change is intended, run tests/qapi-schema/test-qapi.py'
              ' --update NAME)')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
