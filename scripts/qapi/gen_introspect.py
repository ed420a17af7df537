# SPDX-License-Identifier: GPL-2.0-or-later
"""query-qmp-schema data: PREFIXqapi-introspect.h and .cc.

Produces QEMU 7.2's SchemaInfo list (see qapi/introspect.json): first every
command and event in schema order, then every type they use, in order of
first use.  Like QEMU, type names are masked as numbers ("0", "1", ...)
unless --unmask is given; built-in types keep their names, arrays are
"[ELEMENT]", and every integer type is reported as "int".  Elements with
an 'if' condition are wrapped in #if in the generated C++, so they are
absent when the condition is false.
"""

import json

from .cpp import wrap_if
from .gen import OutputFile, cpp_preamble
from .schema import (AlternateType, ArrayType, BuiltinType, Command, EnumType,
                     Event, ObjectType)


class Cond:
    """A JSON value present only if ifcond holds."""

    def __init__(self, value, ifcond):
        self.value = value
        self.ifcond = ifcond


def _cond(value, ifcond):
    return Cond(value, ifcond) if ifcond else value


def has_cond(node):
    if isinstance(node, Cond):
        return True
    if isinstance(node, dict):
        return any(has_cond(v) for v in node.values())
    if isinstance(node, list):
        return any(has_cond(v) for v in node)
    return False


class _IntArray:
    """The array type '[int]' every integer array is reported as."""


class IntrospectionBuilder:
    def __init__(self, schema, unmask):
        self.schema = schema
        self.unmask = unmask
        self._name_map = {}
        self._used = []       # types in order of first use (work queue)
        self.entries = []     # JSON nodes (dicts, possibly Cond-wrapped)

    def build(self):
        for ent in self.schema.entities:
            if isinstance(ent, Command):
                self._command(ent)
            elif isinstance(ent, Event):
                self._event(ent)
        i = 0
        while i < len(self._used):
            self._type(self._used[i])
            i += 1
        return self.entries

    def _name(self, name):
        if self.unmask:
            return name
        if name not in self._name_map:
            self._name_map[name] = '%d' % len(self._name_map)
        return self._name_map[name]

    def _use_type(self, typ):
        int_type = self.schema.lookup_type('int')
        if isinstance(typ, BuiltinType) and typ.json_type() == 'int':
            typ = int_type
        elif (isinstance(typ, ArrayType)
              and isinstance(typ.element_type, BuiltinType)
              and typ.element_type.json_type() == 'int'):
            typ = ('array', int_type)
        elif isinstance(typ, ArrayType):
            typ = ('array', typ.element_type)
        if typ not in self._used:
            self._used.append(typ)
        if isinstance(typ, tuple):
            return '[' + self._use_type(typ[1]) + ']'
        if isinstance(typ, BuiltinType):
            return typ.name
        return self._name(typ.name)

    def _features(self, obj, features):
        if features:
            obj['features'] = [_cond(f.name, f.ifcond) for f in features]

    def _add(self, name, meta, obj, ifcond, features=None):
        entry = {'name': name, 'meta-type': meta}
        entry.update(obj)
        self._features(entry, features)
        self.entries.append(_cond(entry, ifcond))

    def _command(self, cmd):
        empty = self.schema.the_empty_object_type
        obj = {'arg-type': self._use_type(cmd.arg_type or empty),
               'ret-type': self._use_type(cmd.ret_type or empty)}
        if cmd.allow_oob:
            obj['allow-oob'] = True
        self._add(cmd.name, 'command', obj, cmd.ifcond, cmd.features)

    def _event(self, ev):
        empty = self.schema.the_empty_object_type
        self._add(ev.name, 'event',
                  {'arg-type': self._use_type(ev.arg_type or empty)},
                  ev.ifcond, ev.features)

    def _member(self, m):
        obj = {'name': m.name, 'type': self._use_type(m.type)}
        if m.optional:
            obj['default'] = None
        self._features(obj, m.features)
        return _cond(obj, m.ifcond)

    def _type(self, typ):
        if isinstance(typ, tuple):
            element = self._use_type(typ[1])
            self._add('[' + element + ']', 'array', {'element-type': element},
                      typ[1].ifcond)
        elif isinstance(typ, BuiltinType):
            self._add(typ.name, 'builtin', {'json-type': typ.json_type()},
                      None)
        elif isinstance(typ, EnumType):
            members = []
            for m in typ.members:
                obj = {'name': m.name}
                self._features(obj, m.features)
                members.append(_cond(obj, m.ifcond))
            self._add(self._name(typ.name), 'enum',
                      {'members': members,
                       'values': [_cond(m.name, m.ifcond)
                                  for m in typ.members]},
                      typ.ifcond, typ.features)
        elif isinstance(typ, ObjectType):
            obj = {'members': [self._member(m) for m in typ.members]}
            if typ.variants:
                obj['tag'] = typ.variants.tag_member.name
                obj['variants'] = [
                    _cond({'case': b.name, 'type': self._use_type(b.type)},
                          b.ifcond)
                    for b in typ.variants.branches]
            self._add(self._name(typ.name), 'object', obj, typ.ifcond,
                      typ.features)
        elif isinstance(typ, AlternateType):
            self._add(self._name(typ.name), 'alternate',
                      {'members': [_cond({'type': self._use_type(b.type)},
                                         b.ifcond)
                                   for b in typ.branches]},
                      typ.ifcond, typ.features)
        else:
            raise AssertionError('unexpected type %r' % typ)

    def masked_names(self):
        """(number, name) pairs, for comments in the generated code."""
        return [(v, k) for k, v in self._name_map.items()]


def compact_dumps(node, indent, width=100, column=None):
    """JSON text starting at `column` (default: indent) for a value whose
    closing bracket goes at `indent`: on one line if it fits in `width`
    columns, else its elements one per line."""
    one = json.dumps(node, separators=(', ', ': '))
    column = indent if column is None else column
    if column + len(one) <= width or not isinstance(node, (dict, list)) \
            or not node:
        return one
    pad = ' ' * (indent + 2)
    if isinstance(node, dict):
        items = []
        for k, v in node.items():
            key = '%s%s: ' % (pad, json.dumps(k))
            items.append(key + compact_dumps(v, indent + 2, width, len(key)))
        return '{\n' + ',\n'.join(items) + '\n' + ' ' * indent + '}'
    items = [pad + compact_dumps(v, indent + 2, width) for v in node]
    return '[\n' + ',\n'.join(items) + '\n' + ' ' * indent + ']'


def _literal(node, indent=2, used=0):
    """q_parse() of node as a raw string: on one line if that fits in 100
    columns (`used` columns come before it), else on lines of its own."""
    one = 'q_parse(R"qapi(%s)qapi")' % json.dumps(node, separators=(', ', ': '))
    if used + len(one) + 3 <= 100:
        return one
    text = compact_dumps(node, indent + 4)
    return 'q_parse(R"qapi(\n%s%s\n%s)qapi")' % (' ' * (indent + 4), text,
                                                 ' ' * indent)


def _emit(lhs, node, depth, indent):
    """C++ statements assigning node to lhs."""
    pad = ' ' * indent
    if not has_cond(node):
        return '%s%s = %s;\n' % (pad, lhs,
                                  _literal(node, indent, indent + len(lhs) + 3))
    if isinstance(node, dict):
        out = '%s%s = nlohmann::json::object();\n' % (pad, lhs)
        for key, value in node.items():
            target = '%s[%s]' % (lhs, json.dumps(key))
            if isinstance(value, Cond):
                out += wrap_if(value.ifcond,
                               _emit(target, value.value, depth, indent))
            else:
                out += _emit(target, value, depth, indent)
        return out
    assert isinstance(node, list)
    out = '%s%s = nlohmann::json::array();\n' % (pad, lhs)
    for elem in node:
        ifcond = None
        if isinstance(elem, Cond):
            ifcond, elem = elem.ifcond, elem.value
        if not has_cond(elem):
            text = '%s%s.push_back(%s);\n' % (
                pad, lhs, _literal(elem, indent, indent + len(lhs) + 11))
        else:
            var = 'q_element%d' % depth
            text = ('%s{\n%s  nlohmann::json %s;\n' % (pad, pad, var)
                    + _emit(var, elem, depth + 1, indent + 2)
                    + '%s  %s.push_back(std::move(%s));\n%s}\n'
                    % (pad, lhs, var, pad))
        out += wrap_if(ifcond, text)
    return out


def gen_introspect(schema, ns, schema_name, prefix, unmask, config_headers):
    builder = IntrospectionBuilder(schema, unmask)
    entries = builder.build()

    h = OutputFile(prefix + 'qapi-introspect.h')
    h.add(cpp_preamble(schema_name, 'query-qmp-schema data.'
                       ' See qapi/qapi-runtime.h.'))
    h.add('#pragma once\n\n#include <nlohmann/json.hpp>\n\n')
    h.add('namespace %s {\n\n' % ns.outer)
    h.add("// The SchemaInfo list query-qmp-schema returns (QEMU 7.2's format,"
          " type names masked).\n"
          'const nlohmann::json& qapi_introspection_data();\n')
    h.add('\n}  // namespace %s\n' % ns.outer)

    cc = OutputFile(prefix + 'qapi-introspect.cc')
    cc.add(cpp_preamble(schema_name, 'query-qmp-schema data.'))
    cc.add('#include "%sqapi-introspect.h"\n\n#include <utility>\n\n' % prefix)
    for header in config_headers:
        cc.add('#include "%s"\n' % header)
    if config_headers:
        cc.add('\n')
    cc.add('namespace %s {\n\nnamespace {\n\n' % ns.outer)
    if not unmask:
        cc.add('// Masked type names:\n')
        for number, name in builder.masked_names():
            cc.add('//   %s = %s\n' % (number, name))
        cc.add('\n')
    cc.add('nlohmann::json q_parse(const char* text) {\n'
           '  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/'
           'false);\n}\n\n')
    cc.add('nlohmann::json build_introspection_data() {\n'
           '  nlohmann::json q_list = nlohmann::json::array();\n')
    for entry in entries:
        ifcond = None
        if isinstance(entry, Cond):
            ifcond, entry = entry.ifcond, entry.value
        if has_cond(entry):
            text = ('  {\n    nlohmann::json q_entry;\n'
                    + _emit('q_entry', entry, 1, 4)
                    + '    q_list.push_back(std::move(q_entry));\n  }\n')
        else:
            text = '  q_list.push_back(%s);\n' % _literal(entry, 2, 19)
        cc.add(wrap_if(ifcond, text))
    cc.add('  return q_list;\n}\n\n}  // namespace\n\n')
    cc.add('const nlohmann::json& qapi_introspection_data() {\n'
           '  static const nlohmann::json kData = build_introspection_data();\n'
           '  return kData;\n}\n')
    cc.add('\n}  // namespace %s\n' % ns.outer)
    return [h, cc]
