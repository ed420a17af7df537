# SPDX-License-Identifier: GPL-2.0-or-later
"""C++ types and JSON codecs: PREFIXqapi-types.h and PREFIXqapi-types.cc.

Representation (see qapi/qapi-runtime.h for the contract):
  enum       enum class with kCamelCase enumerators, plus to_string() and
             <snake_name>_from_string(), EnumTraits and Codec
  struct     plain struct; a base is a C++ base class; optional members are
             std::optional, arrays std::vector
  union      base members (inherited or inline), then `Branches u` holding
             one member per branch
  alternate  struct with `std::variant<...> value` and `Kind kind()`
Members whose type (transitively, by value) contains their owner are held
in colo::qapi::Box<T>.
"""

from . import cpp
from .cpp import wrap_if
from .gen import OutputFile, cpp_preamble, doc_summary, gen_prototype
from .schema import AlternateType, BuiltinType, EnumType, ObjectType

RT = '::colo::qapi::'          # the runtime namespace, spelled absolutely

_SCALAR_INIT = {
    'bool': ' = false',
    'number': ' = 0',
    'null': ' = nullptr',
}


def _default_init(typ):
    if isinstance(typ, EnumType):
        return '{}'
    if isinstance(typ, BuiltinType):
        if typ.is_int():
            return ' = 0'
        return _SCALAR_INIT.get(typ.name, '')
    return ''


def own_members(typ):
    """Members a struct/union declares itself in C++ (an anonymous union
    base is inlined; a named base is inherited)."""
    if typ.meta == 'union':
        return list(typ.base.local_members) if typ.base.is_implicit() else []
    return list(typ.local_members)


def named_base(typ):
    """The C++ base class of a struct/union, or None."""
    if typ.base is not None and not typ.base.is_implicit():
        return typ.base
    return None


def real_branches(typ):
    """Union branches that carry data (get a member of `u`)."""
    if not typ.variants:
        return []
    return [b for b in typ.variants.branches if not b.implicit]


class Layout:
    """Emission order and boxing of the schema's object types.

    A by-value reference between two types of the same strongly connected
    component (a member, optional member, union branch or alternate branch)
    is boxed; the remaining by-value references decide the order of the
    definitions.  Arrays (std::vector) and bases are never boxed.
    """

    def __init__(self, schema):
        self.types = [t for t in schema.types()
                      if isinstance(t, (ObjectType, AlternateType))]
        self._edges = {t.name: self._strong_edges(t) for t in self.types}
        self._scc = self._tarjan()
        self.order = self._topo_order()

    @staticmethod
    def _target(typ):
        if isinstance(typ, (ObjectType, AlternateType)) \
                and not typ.is_implicit():
            return typ
        return None

    def _strong_edges(self, typ):
        """[(target type, boxable)] of by-value references."""
        edges = []
        if isinstance(typ, AlternateType):
            for b in typ.branches:
                if self._target(b.type):
                    edges.append((b.type, True))
            return edges
        base = named_base(typ)
        if base:
            edges.append((base, False))
        for m in own_members(typ):
            if self._target(m.type):
                edges.append((m.type, True))
        for b in real_branches(typ):
            if self._target(b.type):
                edges.append((b.type, True))
        return edges

    def _tarjan(self):
        index, low, comp = {}, {}, {}
        stack, on_stack = [], set()
        counter = [0]

        def visit(name):
            index[name] = low[name] = counter[0]
            counter[0] += 1
            stack.append(name)
            on_stack.add(name)
            for target, _ in self._edges[name]:
                if target.name not in index:
                    visit(target.name)
                    low[name] = min(low[name], low[target.name])
                elif target.name in on_stack:
                    low[name] = min(low[name], index[target.name])
            if low[name] == index[name]:
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp[top] = name
                    if top == name:
                        break

        for t in self.types:
            if t.name not in index:
                visit(t.name)
        return comp

    def boxed(self, owner, target):
        """Whether owner's by-value reference to target needs a Box."""
        if not self._target(target):
            return False
        return self._scc.get(owner.name) == self._scc.get(target.name)

    def _topo_order(self):
        done, order = set(), []

        def visit(t):
            if t.name in done:
                return
            done.add(t.name)
            for target, boxable in self._edges[t.name]:
                if not (boxable and self.boxed(t, target)):
                    visit(target)
            order.append(t)

        for t in self.types:
            visit(t)
        return order


class TypesGenerator:
    def __init__(self, schema, ns, schema_name, prefix, config_headers):
        self.schema = schema
        self.ns = ns
        self.schema_name = schema_name
        self.prefix = prefix
        self.config_headers = config_headers
        self.layout = Layout(schema)
        self.h = OutputFile(prefix + 'qapi-types.h')
        self.cc = OutputFile(prefix + 'qapi-types.cc')

    # Spelling -------------------------------------------------------------

    def value_type(self, owner, typ, prefix=''):
        """The C++ type of a value of `typ` held by `owner`."""
        spelled = typ.cpp_type(prefix)
        if owner is not None and self.layout.boxed(owner, typ):
            return RT + 'Box<%s>' % spelled
        return spelled

    def field_type(self, owner, member, prefix=''):
        spelled = self.value_type(owner, member.type, prefix)
        if member.optional:
            return 'std::optional<%s>' % spelled
        return spelled

    def A(self, typ):
        """Absolute spelling of a schema type (for the header)."""
        return typ.cpp_type(self.ns.abs)

    @staticmethod
    def T(typ):
        """Spelling of a schema type in the .cc file, through the namespace
        alias `types`."""
        return typ.cpp_type('types::')

    # Header -----------------------------------------------------------------

    def generate(self):
        h = self.h
        h.add(cpp_preamble(self.schema_name,
                           'C++ types of the QAPI schema and their JSON codecs.'
                           ' See qapi/qapi-runtime.h.'))
        h.add('#pragma once\n\n')
        for inc in ('array', 'cstddef', 'cstdint', 'optional', 'string',
                    'string_view', 'variant', 'vector'):
            h.add('#include <%s>\n' % inc)
        h.add('\n#include <nlohmann/json.hpp>\n\n')
        for header in sorted(self.config_headers + ['qapi/qapi-runtime.h']):
            h.add('#include "%s"\n' % header)
        h.add('\n')

        enums = [t for t in self.schema.types() if isinstance(t, EnumType)]
        h.add('namespace %s {\n' % self.ns.types)
        for t in enums:
            h.add('\n' + wrap_if(t.ifcond, self._enum_decl(t)))
        if self.layout.types:
            h.add('\n')
            for t in self.layout.types:
                h.add(wrap_if(t.ifcond, 'struct %s;\n' % t.cpp_type()))
        for t in self.layout.order:
            if isinstance(t, AlternateType):
                text = self._alternate_decl(t)
            else:
                text = self._object_decl(t)
            h.add('\n' + wrap_if(t.ifcond, text))
        h.add('\n}  // namespace %s\n' % self.ns.types)

        h.add('\nnamespace colo::qapi {\n')
        for t in enums:
            h.add('\n' + wrap_if(t.ifcond, self._enum_traits(t)))
        for t in self.layout.types:
            h.add('\n' + wrap_if(t.ifcond, self._codec_decl(t)))
        h.add('\n}  // namespace colo::qapi\n')

        cc = self.cc
        cc.add(cpp_preamble(self.schema_name,
                            'JSON codecs of the QAPI schema types.'))
        cc.add('#include "%sqapi-types.h"\n\n' % self.prefix)
        cc.add('namespace %s {\n' % self.ns.types)
        for t in enums:
            cc.add('\n' + wrap_if(t.ifcond, self._enum_defn(t)))
        for t in self.layout.order:
            if isinstance(t, ObjectType) and t.meta == 'union':
                cc.add('\n' + wrap_if(t.ifcond, self._union_equal(t)))
        cc.add('\n}  // namespace %s\n' % self.ns.types)
        cc.add('\nnamespace colo::qapi {\n\nnamespace types = ::%s;\n'
               % self.ns.types)
        for t in self.layout.order:
            if isinstance(t, AlternateType):
                text = self._alternate_codec(t)
            else:
                text = self._object_codec(t)
            cc.add('\n' + wrap_if(t.ifcond, text))
        cc.add('\n}  // namespace colo::qapi\n')
        return [h, cc]

    # Enums ------------------------------------------------------------------

    def _enum_decl(self, t):
        name = t.cpp_type()
        out = cpp.comment_lines('%s: %s' % (t.name, doc_summary(t.doc))
                                if t.doc else t.name)
        out += 'enum class %s {\n' % name
        entries = [('%s,' % cpp.enum_const(m.name), doc_summary(t.doc, m.name),
                    m.ifcond) for m in t.members]
        width = max(len(e) for e, _, _ in entries)
        trailing = all(not text or 2 + width + 4 + len(text) <= 100
                       for _, text, _ in entries)
        for entry, text, ifcond in entries:
            if not text:
                line = '  %s\n' % entry
            elif trailing:
                line = '  %s  // %s\n' % (entry.ljust(width), text)
            else:
                line = cpp.comment_lines(text, '  ') + '  %s\n' % entry
            out += wrap_if(ifcond, line)
        out += '};\n'
        out += 'std::string_view to_string(%s value);\n' % name
        out += 'std::optional<%s> %s_from_string(std::string_view name);\n' \
            % (name, cpp.snake(t.name))
        return out

    def _enum_traits(self, t):
        a = self.A(t)
        out = 'template <>\nstruct EnumTraits<%s> {\n' % a
        out += '  static constexpr std::string_view kTypeName = %s;\n' \
            % cpp.cpp_string(t.name)
        out += '  static constexpr auto kNames = std::to_array<std::string_view>({\n'
        for m in t.members:
            out += wrap_if(m.ifcond, '      %s,\n' % cpp.cpp_string(m.name))
        out += '  });\n};\n\n'
        out += 'template <>\nstruct Codec<%s> {\n' % a
        out += gen_prototype('  static nlohmann::json', 'encode',
                             ['%s value' % a], ' {')
        out += '    return std::string(enum_to_string(value));\n  }\n'
        out += gen_prototype('  static Status', 'decode',
                             ['const nlohmann::json& json',
                              'const JsonPath& path', '%s* out' % a], ' {')
        out += '    return internal::decode_enum(json, path, out);\n  }\n};\n'
        return out

    def _enum_defn(self, t):
        name = t.cpp_type()
        return ('std::string_view to_string(%s value) {\n'
                '  return %senum_to_string(value);\n}\n\n'
                'std::optional<%s> %s_from_string(std::string_view name) {\n'
                '  return %senum_from_string<%s>(name);\n}\n'
                % (name, RT, name, cpp.snake(t.name), RT, name))

    # Structs and unions -----------------------------------------------------

    @staticmethod
    def _member_comment(owner, m):
        """The member's description from the owner's documentation."""
        summary = doc_summary(owner.doc, m.name)
        return cpp.comment_lines(summary, '  ') if summary else ''

    def _field(self, owner, m):
        return '%s%s %s%s;\n' % (
            self._member_comment(owner, m), '  ' + self.field_type(owner, m),
            m.cpp_name(), '' if m.optional else _default_init(m.type))

    def _object_decl(self, t):
        name = t.cpp_type()
        out = cpp.comment_lines('%s: %s' % (t.name, doc_summary(t.doc))
                                if t.doc else t.name)
        base = named_base(t)
        if base:
            out += 'struct %s : %s {\n' % (name, base.cpp_type())
        else:
            out += 'struct %s {\n' % name
        for m in own_members(t):
            out += wrap_if(m.ifcond, self._field(t, m))
        branches = real_branches(t)
        if branches:
            tag = t.variants.tag_member.cpp_name()
            out += ('\n  // The data of each branch; only the one selected by'
                    ' `%s` is used.\n  struct Branches {\n' % tag)
            # Absolute type names: inside Branches, a type called Branches
            # would name the struct itself.
            for b in branches:
                out += wrap_if(b.ifcond, '    %s %s;\n' % (
                    self.value_type(t, b.type, self.ns.abs), b.cpp_name()))
            out += '  };\n  Branches u;\n'
        if t.meta == 'union':
            out += ('\n  // Compares the members and the selected branch.\n'
                    '  bool operator==(const %s& other) const;\n' % name)
        else:
            out += ('\n' if own_members(t) else '') + \
                '  bool operator==(const %s&) const = default;\n' % name
        out += '};\n'
        return out

    def _union_equal(self, t):
        name = t.cpp_type()
        out = 'bool %s::operator==(const %s& other) const {\n' % (name, name)
        base = named_base(t)
        if base:
            b = base.cpp_type()
            out += ('  if (!(static_cast<const %s&>(*this) =='
                    ' static_cast<const %s&>(other))) {\n'
                    '    return false;\n  }\n' % (b, b))
        for m in own_members(t):
            f = m.cpp_name()
            out += wrap_if(m.ifcond, '  if (!(%s == other.%s)) return false;\n'
                           % (f, f))
        tag = t.variants.tag_member
        branches = real_branches(t)
        if not branches:
            return out + '  return true;\n}\n'
        out += '  switch (%s) {\n' % tag.cpp_name()
        for b in branches:
            out += wrap_if(b.ifcond, (
                '    case %s::%s:\n      return u.%s == other.u.%s;\n'
                % (tag.type.cpp_type(), cpp.enum_const(b.name), b.cpp_name(),
                   b.cpp_name())))
        out += '    default:\n      return true;\n  }\n}\n'
        return out

    # Alternates -------------------------------------------------------------

    def _alternate_decl(self, t):
        name = t.cpp_type()
        out = cpp.comment_lines('%s: %s' % (t.name, doc_summary(t.doc))
                                if t.doc else t.name)
        out += 'struct %s {\n  enum class Kind {\n' % name
        for b in t.branches:
            out += wrap_if(b.ifcond, '    %s,\n' % cpp.enum_const(b.name))
        out += '  };\n\n'
        # Absolute type names: a branch type called Kind must not be
        # confused with the nested enum.
        types = [(b, self.value_type(t, b.type, self.ns.abs))
                 for b in t.branches]
        if any(b.ifcond for b in t.branches):
            out += '  std::variant<%s\n' % types[0][1]
            for b, spelled in types[1:]:
                out += wrap_if(b.ifcond, '               , %s\n' % spelled)
            out += '               >\n      value;\n'
        else:
            out += '  std::variant<%s> value;\n' % ', '.join(s for _, s in types)
        out += ('\n  Kind kind() const { return static_cast<Kind>(value.index()); }\n'
                '  bool operator==(const %s&) const = default;\n};\n' % name)
        return out

    # Codecs -------------------------------------------------------------------

    def _codec_decl(self, t):
        a = self.A(t)
        out = 'template <>\nstruct Codec<%s> {\n' % a
        out += gen_prototype('  static nlohmann::json', 'encode',
                             ['const %s& value' % a])
        out += gen_prototype('  static Status', 'decode',
                             ['const nlohmann::json& json',
                              'const JsonPath& path', '%s* out' % a])
        if isinstance(t, ObjectType):
            out += gen_prototype('  static void', 'encode_members',
                                 ['const %s& value' % a,
                                  'nlohmann::json* object'])
            out += gen_prototype('  static Status', 'decode_members',
                                 ['const nlohmann::json& object',
                                  'const JsonPath& path', '%s* out' % a])
            out += gen_prototype('  static bool', 'is_member',
                                 ['std::string_view key',
                                  'const %s& value' % a])
        out += '};\n'
        return out

    def _object_codec(self, t):
        a = self.T(t)
        c = 'Codec<%s>::' % a
        base = named_base(t)
        members = own_members(t)
        branches = real_branches(t)

        out = gen_prototype('nlohmann::json', c + 'encode',
                            ['const %s& value' % a], ' {')
        out += ('  nlohmann::json object = nlohmann::json::object();\n'
                '  encode_members(value, &object);\n'
                '  return object;\n}\n\n')
        out += gen_prototype('Status', c + 'decode',
                             ['const nlohmann::json& json',
                              'const JsonPath& path', '%s* out' % a], ' {')
        out += '  return internal::decode_object(json, path, out);\n}\n\n'

        # encode_members
        out += gen_prototype('void', c + 'encode_members',
                             ['const %s& value' % a, 'nlohmann::json* object'],
                             ' {')
        if base:
            out += '  Codec<%s>::encode_members(value, object);\n' % self.T(base)
        for m in members:
            f = m.cpp_name()
            if m.optional:
                text = ('  if (value.%s) (*object)[%s] = to_json(*value.%s);\n'
                        % (f, cpp.cpp_string(m.name), f))
            else:
                text = ('  (*object)[%s] = to_json(value.%s);\n'
                        % (cpp.cpp_string(m.name), f))
            out += wrap_if(m.ifcond, text)
        if branches:
            out += self._branch_switch(
                t, 'value.', lambda b, acc:
                '      Codec<%s>::encode_members(%s, object);\n      break;\n'
                % (self.T(b.type), acc('value.u.%s' % b.cpp_name(), False)),
                '      break;\n')
        if not base and not members and not branches:
            out += '  (void)value;\n  (void)object;\n'
        out += '}\n\n'

        # decode_members
        out += gen_prototype('Status', c + 'decode_members',
                             ['const nlohmann::json& object',
                              'const JsonPath& path', '%s* out' % a], ' {')
        if base:
            out += ('  COLO_TRY(Codec<%s>::decode_members(object, path, out));\n'
                    % self.T(base))
        for m in members:
            fn = 'decode_optional' if m.optional else 'decode_required'
            out += wrap_if(m.ifcond, (
                '  COLO_TRY(internal::%s(object, path, %s, &out->%s));\n'
                % (fn, cpp.cpp_string(m.name), m.cpp_name())))
        if branches:
            out += self._branch_switch(
                t, 'out->', lambda b, acc:
                '      return Codec<%s>::decode_members(object, path, %s);\n'
                % (self.T(b.type), acc('out->u.%s' % b.cpp_name(), True)),
                '      return ok_status();\n')
        else:
            if not base and not members:
                out += '  (void)object;\n  (void)path;\n  (void)out;\n'
            out += '  return ok_status();\n'
        out += '}\n\n'

        # is_member
        out += gen_prototype('bool', c + 'is_member',
                             ['std::string_view key', 'const %s& value' % a],
                             ' {')
        if base:
            out += ('  if (Codec<%s>::is_member(key, value)) return true;\n'
                    % self.T(base))
        for m in members:
            out += wrap_if(m.ifcond, '  if (key == %s) return true;\n'
                           % cpp.cpp_string(m.name))
        if branches:
            out += self._branch_switch(
                t, 'value.', lambda b, acc:
                '      return Codec<%s>::is_member(key, %s);\n'
                % (self.T(b.type), acc('value.u.%s' % b.cpp_name(), False)),
                '      return false;\n')
        else:
            if not base and not members:
                out += '  (void)key;\n'
            out += '  (void)value;\n  return false;\n'
        out += '}\n'
        return out

    def _branch_switch(self, t, obj, case_text, default_text):
        """switch (OBJ.tag) over the union's data-carrying branches."""
        tag = t.variants.tag_member
        out = '  switch (%s%s) {\n' % (obj, tag.cpp_name())

        for b in real_branches(t):
            boxed = self.layout.boxed(t, b.type)

            def acc(expr, mutable, boxed=boxed):
                if boxed:
                    return ('&%s.mut()' % expr) if mutable else '%s.get()' % expr
                return ('&%s' % expr) if mutable else expr

            out += wrap_if(b.ifcond, '    case %s::%s:\n%s' % (
                self.T(tag.type), cpp.enum_const(b.name), case_text(b, acc)))
        out += '    default:\n%s  }\n' % default_text
        return out

    def _alternate_codec(self, t):
        a = self.T(t)
        c = 'Codec<%s>::' % a
        out = gen_prototype('nlohmann::json', c + 'encode',
                            ['const %s& value' % a], ' {')
        out += ('  return std::visit([](const auto& v) { return to_json(v); },'
                ' value.value);\n}\n\n')
        out += gen_prototype('Status', c + 'decode',
                             ['const nlohmann::json& json',
                              'const JsonPath& path', '%s* out' % a], ' {')
        tests = {
            'string': 'json.is_string()',
            'number': 'json.is_number()',
            'boolean': 'json.is_boolean()',
            'null': 'json.is_null()',
            'object': 'json.is_object()',
        }
        for b in t.branches:
            spelled = self.value_type(t, b.type, 'types::')
            out += wrap_if(b.ifcond, (
                '  if (%s) {\n'
                '    auto& value = out->value.emplace<%s>();\n'
                '    return Codec<%s>::decode(json, path, &value);\n'
                '  }\n' % (tests[b.type.alternate_qtype()], spelled, spelled)))
        out += '  return internal::invalid_type(path, %s);\n}\n' \
            % cpp.cpp_string(t.name)
        return out


def gen_types(schema, ns, schema_name, prefix, config_headers):
    return TypesGenerator(schema, ns, schema_name, prefix,
                          config_headers).generate()
