# SPDX-License-Identifier: GPL-2.0-or-later
"""Command line of the QAPI generator (scripts/qapi-gen.py)."""

import argparse
import os
import sys

from .error import QAPIError
from .gen import Namespaces
from .gen_commands import gen_commands
from .gen_docs import gen_docs
from .gen_events import gen_events
from .gen_introspect import gen_introspect
from .gen_types import gen_types
from .schema import QAPISchema

OUTPUTS = ('qapi-types.h', 'qapi-types.cc', 'qapi-commands.h',
           'qapi-commands.cc', 'qapi-events.h', 'qapi-events.cc',
           'qapi-introspect.h', 'qapi-introspect.cc', 'qmp-reference.md')


def generate(schema, args):
    ns = Namespaces(args.namespace)
    name = args.schema_name or os.path.basename(args.schema)
    files = []
    files += gen_types(schema, ns, name, args.prefix, args.config_header)
    files += gen_commands(schema, ns, name, args.prefix)
    files += gen_events(schema, ns, name, args.prefix)
    files += gen_introspect(schema, ns, name, args.prefix, args.unmask,
                            args.config_header)
    files += gen_docs(schema, name, args.prefix)
    return files


def write_depfile(path, target, deps):
    def esc(p):
        return p.replace(' ', '\\ ')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('%s: %s\n' % (esc(target), ' '.join(esc(d) for d in deps)))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate C++ code and the QMP reference from a QAPI'
        ' schema.')
    parser.add_argument('schema', help='the main schema file')
    parser.add_argument('-o', '--output-dir', default='.',
                        help='where to write the files (default: .)')
    parser.add_argument('-p', '--prefix', default='',
                        help='prefix of the output file names')
    parser.add_argument('--namespace', default='colo',
                        help='C++ namespace of handlers, senders and tables;'
                        ' types go in NAMESPACE::qapi (default: colo)')
    parser.add_argument('--config-header', action='append', default=[],
                        help="header defining the CONFIG_* symbols of 'if'"
                        ' conditions (repeatable)')
    parser.add_argument('--schema-name',
                        help='name of the schema in generated comments'
                        ' (default: the file name)')
    parser.add_argument('-u', '--unmask', action='store_true',
                        help="don't mask type names in query-qmp-schema")
    parser.add_argument('--depfile',
                        help='write a Makefile-style dependency file')
    parser.add_argument('--check-only', action='store_true',
                        help='check the schema, write nothing')
    args = parser.parse_args(argv)

    try:
        schema = QAPISchema(args.schema)
    except QAPIError as err:
        print(err, file=sys.stderr)
        return 1
    if args.check_only:
        return 0

    files = generate(schema, args)
    os.makedirs(args.output_dir, exist_ok=True)
    for f in files:
        f.write(args.output_dir)
    if args.depfile:
        here = os.path.dirname(os.path.abspath(__file__))
        scripts = sorted(os.path.join(here, n) for n in os.listdir(here)
                         if n.endswith('.py'))
        write_depfile(args.depfile,
                      os.path.join(args.output_dir, args.prefix + OUTPUTS[0]),
                      schema.files + scripts)
    return 0
