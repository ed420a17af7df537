# SPDX-License-Identifier: GPL-2.0-or-later
"""Event senders: PREFIXqapi-events.h and PREFIXqapi-events.cc.

    void qapi_event_send_shutdown(bool guest, qapi::ShutdownCause reason);

builds the event's data object and calls the hook
qapi_event_emit(qapi::QAPIEvent, name, data), which forwards it to the
runtime's sink (qapi_event_forward()).
"""

from . import cpp
from .cpp import wrap_if
from .gen import OutputFile, cpp_preamble, doc_summary, gen_prototype
from .gen_commands import arg_members, param_decl

RT = '::colo::qapi::'


class EventsGenerator:
    def __init__(self, schema, ns, schema_name, prefix):
        self.schema = schema
        self.ns = ns
        self.schema_name = schema_name
        self.prefix = prefix
        self.h = OutputFile(prefix + 'qapi-events.h')
        self.cc = OutputFile(prefix + 'qapi-events.cc')

    def _params(self, ev):
        if ev.boxed:
            return [('const %s& arg' % ev.arg_type.cpp_type(self.ns.rel), None)]
        return [(param_decl(m, self.ns), m.ifcond) for m in arg_members(ev)]

    def generate(self):
        events = self.schema.events()
        ns = self.ns
        h = self.h
        h.add(cpp_preamble(self.schema_name,
                           'QMP event senders. See qapi/qapi-runtime.h.'))
        h.add('#pragma once\n\n')
        for inc in ('array', 'cstdint', 'optional', 'string', 'string_view',
                    'vector'):
            h.add('#include <%s>\n' % inc)
        h.add('\n#include <nlohmann/json.hpp>\n\n')
        for inc in sorted([self.prefix + 'qapi-types.h', 'qapi/qapi-runtime.h']):
            h.add('#include "%s"\n' % inc)
        h.add('\n')

        h.add('namespace %s {\n\n' % ns.types)
        h.add('// The events of the schema, in schema order.\n'
              'enum class QAPIEvent {\n')
        for ev in events:
            h.add(wrap_if(ev.ifcond, '  %s,\n' % cpp.enum_const(ev.name)))
        h.add('};\nstd::string_view to_string(QAPIEvent value);\n'
              'std::optional<QAPIEvent> qapi_event_from_string('
              'std::string_view name);\n')
        h.add('\n}  // namespace %s\n\nnamespace colo::qapi {\n\n' % ns.types)
        a = '%sQAPIEvent' % ns.abs
        h.add('template <>\nstruct EnumTraits<%s> {\n'
              '  static constexpr std::string_view kTypeName = "QAPIEvent";\n'
              % a)
        if events:
            h.add('  static constexpr auto kNames = '
                  'std::to_array<std::string_view>({\n')
            for ev in events:
                h.add(wrap_if(ev.ifcond, '      %s,\n'
                              % cpp.cpp_string(ev.name)))
            h.add('  });\n};\n\n')
        else:
            h.add('  static constexpr std::array<std::string_view, 0> kNames{};'
                  '\n};\n\n')
        h.add('template <>\nstruct Codec<%s> {\n' % a)
        h.add(gen_prototype('  static nlohmann::json', 'encode',
                            ['%s value' % a], ' {'))
        h.add('    return std::string(enum_to_string(value));\n  }\n')
        h.add(gen_prototype('  static Status', 'decode',
                            ['const nlohmann::json& json', 'const JsonPath& path',
                             '%s* out' % a], ' {'))
        h.add('    return internal::decode_enum(json, path, out);\n  }\n};\n')
        h.add('\n}  // namespace colo::qapi\n\nnamespace %s {\n\n' % ns.outer)
        h.add('// Called by every sender below; passes the event to the sink'
              ' registered with\n// set_qapi_event_sink(). `data` is null for'
              ' events without data.\n'
              'void qapi_event_emit(qapi::QAPIEvent event, std::string_view name,'
              ' nlohmann::json data);\n')
        for ev in events:
            summary = doc_summary(ev.doc)
            text = cpp.comment_lines('%s: %s' % (ev.name, summary) if summary
                                     else ev.name)
            params = self._params(ev) or [('', None)]
            if params == [('', None)]:
                text += 'void %s();\n' % cpp.event_fn(ev.name)
            else:
                text += gen_prototype('void', cpp.event_fn(ev.name), params)
            h.add('\n' + wrap_if(ev.ifcond, text))
        h.add('\n}  // namespace %s\n' % ns.outer)

        cc = self.cc
        cc.add(cpp_preamble(self.schema_name, 'QMP event senders.'))
        cc.add('#include "%sqapi-events.h"\n\n#include <utility>\n\n'
               % self.prefix)
        cc.add('namespace %s {\n\n' % ns.types)
        cc.add('std::string_view to_string(QAPIEvent value) {\n'
               '  return %senum_to_string(value);\n}\n\n'
               'std::optional<QAPIEvent> qapi_event_from_string('
               'std::string_view name) {\n'
               '  return %senum_from_string<QAPIEvent>(name);\n}\n\n'
               % (RT, RT))
        cc.add('}  // namespace %s\n\nnamespace %s {\n\n' % (ns.types, ns.outer))
        cc.add('void qapi_event_emit(qapi::QAPIEvent event, std::string_view name,'
               ' nlohmann::json data) {\n'
               '  (void)event;\n'
               '  ::colo::qapi_event_forward(name, std::move(data));\n}\n')
        for ev in events:
            cc.add('\n' + wrap_if(ev.ifcond, self._sender(ev)))
        cc.add('\n}  // namespace %s\n' % ns.outer)
        return [h, cc]

    def _sender(self, ev):
        params = self._params(ev)
        fn = cpp.event_fn(ev.name)
        if params:
            out = gen_prototype('void', fn, params, ' {')
        else:
            out = 'void %s() {\n' % fn
        emit = ('  qapi_event_emit(qapi::QAPIEvent::%s, %s, %%s);\n'
                % (cpp.enum_const(ev.name), cpp.cpp_string(ev.name)))
        if ev.arg_type is None:
            return out + emit % 'nullptr' + '}\n'
        if ev.boxed:
            return out + emit % ('%sto_json(arg)' % RT) + '}\n'
        if not ev.arg_type.is_implicit():
            spelled = ev.arg_type.cpp_type(self.ns.rel)
            out += '  %s q_arg;\n' % spelled
            for m in arg_members(ev):
                out += wrap_if(m.ifcond, '  q_arg.%s = %s;\n'
                               % (m.cpp_name(), m.cpp_name()))
            return out + emit % ('%sto_json(q_arg)' % RT) + '}\n'
        out += '  nlohmann::json q_data = nlohmann::json::object();\n'
        for m in arg_members(ev):
            f = m.cpp_name()
            if m.optional:
                text = ('  if (%s) q_data[%s] = %sto_json(*%s);\n'
                        % (f, cpp.cpp_string(m.name), RT, f))
            else:
                text = ('  q_data[%s] = %sto_json(%s);\n'
                        % (cpp.cpp_string(m.name), RT, f))
            out += wrap_if(m.ifcond, text)
        return out + emit % 'std::move(q_data)' + '}\n'


def gen_events(schema, ns, schema_name, prefix):
    return EventsGenerator(schema, ns, schema_name, prefix).generate()
