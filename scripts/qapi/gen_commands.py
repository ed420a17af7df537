# SPDX-License-Identifier: GPL-2.0-or-later
"""Command handler prototypes, marshallers and the dispatch table:
PREFIXqapi-commands.h and PREFIXqapi-commands.cc.

For each command the header declares the hand-written handler, e.g.

    Result<std::string> qmp_human_monitor_command(
        const std::string& command_line, std::optional<int64_t> cpu_index,
        QmpContext& ctx);

and the .cc file defines a marshaller (JSON arguments -> handler call ->
JSON result) and the table of QmpCommandDef entries sorted by name.
"""

from . import cpp
from .cpp import wrap_if
from .gen import OutputFile, cpp_preamble, doc_summary, gen_call, gen_prototype
from .gen_types import Layout

RT = 'rt::'   # namespace alias of ::colo::qapi in the generated .cc


def handler_return_type(cmd, ns):
    if cmd.ret_type is None:
        return 'Status'
    return 'Result<%s>' % cmd.ret_type.cpp_type(ns.rel)


def param_decl(member, ns):
    """A handler/sender parameter for one argument."""
    spelled = member.type.cpp_type(ns.rel)
    if member.optional:
        spelled = 'std::optional<%s>' % spelled
    if member.type.is_scalar():
        return '%s %s' % (spelled, member.cpp_name())
    return 'const %s& %s' % (spelled, member.cpp_name())


def arg_members(ent):
    """The unpacked arguments of a non-boxed command or event."""
    if ent.arg_type is None or ent.boxed:
        return []
    return ent.arg_type.members


def handler_params(cmd, ns):
    params = []
    if cmd.boxed and cmd.arg_type is not None:
        params.append(('const %s& arg' % cmd.arg_type.cpp_type(ns.rel), None))
    for m in arg_members(cmd):
        params.append((param_decl(m, ns), m.ifcond))
    params.append(('QmpContext& ctx', None))
    return params


class CommandsGenerator:
    def __init__(self, schema, ns, schema_name, prefix):
        self.schema = schema
        self.ns = ns
        self.schema_name = schema_name
        self.prefix = prefix
        self.h = OutputFile(prefix + 'qapi-commands.h')
        self.cc = OutputFile(prefix + 'qapi-commands.cc')
        self.layout = Layout(schema)

    def generate(self):
        cmds = self.schema.commands()
        h = self.h
        h.add(cpp_preamble(
            self.schema_name, 'Prototypes of the QMP command handlers (written by'
            ' hand) and the command table. See qapi/qapi-runtime.h.'))
        h.add('#pragma once\n\n')
        for inc in ('cstdint', 'optional', 'span', 'string', 'string_view',
                    'vector'):
            h.add('#include <%s>\n' % inc)
        h.add('\n#include <nlohmann/json.hpp>\n\n')
        for inc in sorted([self.prefix + 'qapi-types.h', 'qapi/qapi-runtime.h',
                           'util/error.h']):
            h.add('#include "%s"\n' % inc)
        h.add('\n')
        h.add('namespace %s {\n' % self.ns.outer)
        for cmd in cmds:
            h.add('\n' + wrap_if(cmd.ifcond, self._decl(cmd)))
        h.add('\n// Every command compiled in, sorted by name.\n'
              'std::span<const QmpCommandDef> qmp_command_table();\n\n'
              '// The command called `name`, or null.\n'
              'const QmpCommandDef* qmp_find_command(std::string_view name);\n')
        h.add('\n}  // namespace %s\n' % self.ns.outer)

        cc = self.cc
        cc.add(cpp_preamble(self.schema_name,
                            'QMP command marshallers and the command table.'))
        cc.add('#include "%sqapi-commands.h"\n\n#include <algorithm>\n'
               '#include <iterator>\n#include <utility>\n\n' % self.prefix)
        cc.add('namespace %s {\n\nnamespace {\n\nnamespace rt = ::colo::qapi;\n'
               % self.ns.outer)
        for cmd in cmds:
            if cmd.gen:
                cc.add('\n' + wrap_if(cmd.ifcond, self._marshal(cmd)))
        cc.add('\n' + self._table(cmds))
        cc.add('\n}  // namespace\n\n')
        cc.add('std::span<const QmpCommandDef> qmp_command_table() {\n'
               '  // The last entry only ends the array.\n'
               '  return {kCommands, std::size(kCommands) - 1};\n}\n\n'
               'const QmpCommandDef* qmp_find_command(std::string_view name) {\n'
               '  std::span<const QmpCommandDef> table = qmp_command_table();\n'
               '  auto it = std::lower_bound(\n'
               '      table.begin(), table.end(), name,\n'
               '      [](const QmpCommandDef& def, std::string_view key)'
               ' { return def.name < key; });\n'
               '  if (it == table.end() || it->name != name) return nullptr;\n'
               '  return &*it;\n}\n')
        cc.add('\n}  // namespace %s\n' % self.ns.outer)
        return [h, cc]

    # Declarations -------------------------------------------------------------

    def _decl(self, cmd):
        summary = doc_summary(cmd.doc)
        out = cpp.comment_lines('%s: %s' % (cmd.name, summary) if summary
                                else cmd.name)
        if not cmd.gen:
            out += ("// 'gen': false: the marshaller is written by hand.\n"
                    'Result<nlohmann::json> %s(const nlohmann::json& args,'
                    ' QmpContext& ctx);\n' % cpp.marshal_fn(cmd.name))
            return out
        return out + gen_prototype(handler_return_type(cmd, self.ns),
                                   cpp.command_fn(cmd.name),
                                   handler_params(cmd, self.ns))

    # Marshallers ----------------------------------------------------------------

    def _marshal(self, cmd):
        ns = self.ns
        out = gen_prototype('Result<nlohmann::json>', cpp.marshal_fn(cmd.name),
                            ['const nlohmann::json& q_args', 'QmpContext& q_ctx'],
                            ' {')
        call_args = []
        members = arg_members(cmd)
        if cmd.arg_type is None or (cmd.arg_type.is_implicit()
                                    and not members):
            out += '  COLO_TRY(%sinternal::check_no_arguments(q_args));\n' % RT
        else:
            out += ('  COLO_ASSIGN_OR_RETURN(const nlohmann::json* q_object,'
                    ' %sinternal::arguments_object(q_args));\n' % RT)
            if cmd.arg_type.is_implicit():
                out += '  const %sJsonPath q_path;\n' % RT
                for m in members:
                    spelled = m.type.cpp_type(ns.rel)
                    if m.optional:
                        spelled = 'std::optional<%s>' % spelled
                    out += wrap_if(m.ifcond, '  %s %s{};\n'
                                   % (spelled, m.cpp_name()))
                for m in members:
                    fn = 'decode_optional' if m.optional else 'decode_required'
                    out += wrap_if(m.ifcond, gen_call(
                        '  COLO_TRY(%sinternal::%s' % (RT, fn),
                        ['*q_object', 'q_path', cpp.cpp_string(m.name),
                         '&' + m.cpp_name()], ');'))
                out += ('  const std::initializer_list<std::string_view>'
                        ' q_names = {\n')
                for m in members:
                    out += wrap_if(m.ifcond, '    %s,\n'
                                   % cpp.cpp_string(m.name))
                out += ('  };\n  COLO_TRY(%sinternal::check_unexpected(*q_object,'
                        ' q_path, q_names));\n' % RT)
                call_args = [(m.cpp_name(), m.ifcond) for m in members]
            else:
                spelled = cmd.arg_type.cpp_type(ns.rel)
                out += '  %s q_arg;\n' % spelled
                out += gen_call('  COLO_TRY(%sCodec<%s>::decode' % (RT, spelled),
                                ['*q_object', RT + 'JsonPath()', '&q_arg'],
                                ');')
                if cmd.boxed:
                    call_args = [('q_arg', None)]
                else:
                    for m in members:
                        field = 'q_arg.' + m.cpp_name()
                        if self.layout.boxed(cmd.arg_type, m.type):
                            field = '%sinternal::unbox(%s)' % (RT, field)
                        call_args.append((field, m.ifcond))
        call_args.append(('q_ctx', None))

        ret = handler_return_type(cmd, ns)
        var = 'q_status' if cmd.ret_type is None else 'q_ret'
        out += gen_prototype('  ' + ret, var + ' = ' + cpp.command_fn(cmd.name),
                             call_args)
        out += '  if (!%s.ok()) return std::move(%s).error();\n' % (var, var)
        if cmd.ret_type is None:
            out += '  return nlohmann::json::object();\n'
        else:
            out += '  return %sto_json(*q_ret);\n' % RT
        out += '}\n'
        return out

    # The table ------------------------------------------------------------------

    def _table(self, cmds):
        run_state = self.schema.run_state_enum()
        out = 'constexpr QmpCommandDef kCommands[] = {\n'
        for cmd in sorted(cmds, key=lambda c: c.name):
            fields = ['.name = %s' % cpp.cpp_string(cmd.name),
                      '.marshal = %s' % cpp.marshal_fn(cmd.name)]
            if cmd.allow_oob:
                fields.append('.allow_oob = true')
            if cmd.allow_preconfig:
                fields.append('.allow_preconfig = true')
            if cmd.run_states is not None:
                states = ', '.join('qapi::%s::%s' % (run_state.cpp_type(),
                                                      cpp.enum_const(s))
                                   for s in cmd.run_states)
                fields.append('.run_state_mask = ::colo::run_state_mask(%s)'
                              % states)
            special = cmd.special_features()
            feature_lines = ''
            if special:
                if any(f.ifcond for f in special):
                    feature_lines = '     .features = 0u\n'
                    for f in special:
                        feature_lines += wrap_if(
                            f.ifcond, '                 | ::colo::kQapiFeature%s\n'
                            % cpp.camel(f.name))
                else:
                    fields.append('.features = ' + ' | '.join(
                        '::colo::kQapiFeature%s' % cpp.camel(f.name)
                        for f in special))
            if not cmd.success_response:
                fields.append('.success_response = false')
            if feature_lines:
                entry = '    {' + ',\n     '.join(fields) + ',\n' + \
                    feature_lines + '    },\n'
            else:
                entry = '    {' + ', '.join(fields) + '},\n'
                if len(entry) > 101:
                    entry = '    {' + ',\n     '.join(fields) + '},\n'
            out += wrap_if(cmd.ifcond, entry)
        out += '    {},\n};\n'
        return out


def gen_commands(schema, ns, schema_name, prefix):
    return CommandsGenerator(schema, ns, schema_name, prefix).generate()
