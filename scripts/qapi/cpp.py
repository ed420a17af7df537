# SPDX-License-Identifier: GPL-2.0-or-later
"""C++ spelling of QAPI names, and helpers for writing generated code."""

import re

# C++20 keywords and alternative tokens, plus macros that the C library or
# the compiler may define (QEMU's "polluted words").
CPP_KEYWORDS = frozenset('''
    alignas alignof and and_eq asm auto bitand bitor bool break case catch
    char char8_t char16_t char32_t class compl concept const consteval
    constexpr constinit const_cast continue co_await co_return co_yield
    decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace
    new noexcept not not_eq nullptr operator or or_eq private protected
    public register reinterpret_cast requires return short signed sizeof
    static static_assert static_cast struct switch template this
    thread_local throw true try typedef typeid typename union unsigned using
    virtual void volatile wchar_t while xor xor_eq
    errno linux unix i386 mips sparc assert NULL
'''.split())


def c_name(name):
    """Characters a C++ identifier can't have become '_'."""
    return re.sub(r'[^A-Za-z0-9_]', '_', name)


def member_name(name):
    """QAPI member name -> C++ field/parameter name: 'cpu-index' ->
    'cpu_index'; keywords get a '_' suffix ('default' -> 'default_')."""
    ret = c_name(name)
    if ret.startswith('_'):
        ret = 'q' + ret
    if ret in CPP_KEYWORDS:
        ret += '_'
    return ret


def type_name(name):
    """QAPI type name -> C++ type name (QAPI types are CamelCase already;
    a downstream prefix '__com.example_' becomes 'q__com_example_')."""
    ret = c_name(name)
    if ret.startswith('_'):
        ret = 'q' + ret
    return ret


def camel(name):
    """'internal-error' -> 'InternalError', 'x86_64' -> 'X86_64',
    'SHUTDOWN' -> 'Shutdown', '1024' -> '1024'."""
    ret = ''
    for part in re.split(r'[-_.]+', name):
        if not part:
            continue
        part = part[0].upper() + part[1:].lower() if part.isupper() \
            else part[0].upper() + part[1:]
        if ret and ret[-1].isdigit() and part[0].isdigit():
            ret += '_'
        ret += part
    return ret


def enum_const(value):
    """Enum value -> enumerator: 'inmigrate' -> 'kInmigrate'."""
    return 'k' + camel(value)


def snake(name):
    """CamelCase -> snake_case: 'RunState' -> 'run_state',
    'QMPCapability' -> 'qmp_capability'; other names: '-' -> '_', lower."""
    name = c_name(name)
    name = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', name)
    name = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', name)
    return name.lower().strip('_')


def command_fn(name):
    """'query-status' -> 'qmp_query_status'."""
    return 'qmp_' + c_name(name).lower()


def marshal_fn(name):
    return 'qmp_marshal_' + c_name(name).lower()


def event_fn(name):
    """'SHUTDOWN' -> 'qapi_event_send_shutdown'."""
    return 'qapi_event_send_' + c_name(name).lower()


def cpp_string(text):
    """A C++ string literal."""
    out = '"'
    for ch in text:
        if ch in '\\"':
            out += '\\' + ch
        elif ch == '\n':
            out += '\\n'
        elif ord(ch) < 32 or ord(ch) > 126:
            out += '\\x%02x' % ord(ch)
        else:
            out += ch
    return out + '"'


class IfCond:
    """An 'if' condition: None, 'CONFIG_X', {'all': [...]}, {'any': [...]}
    or {'not': ...}."""

    def __init__(self, expr=None):
        self.expr = expr

    def __bool__(self):
        return self.expr is not None

    def cgen(self):
        """As a preprocessor expression."""
        return self._cgen(self.expr, top=True)

    def _cgen(self, cond, top=False):
        if isinstance(cond, str):
            return 'defined(%s)' % cond
        if 'not' in cond:
            return '!' + self._cgen(cond['not'])
        op = ' && ' if 'all' in cond else ' || '
        parts = [self._cgen(c) for c in (cond.get('all') or cond['any'])]
        if len(parts) == 1:
            return parts[0]
        ret = op.join(parts)
        return ret if top else '(' + ret + ')'

    def docgen(self):
        """For humans: 'CONFIG_A and (CONFIG_B or not CONFIG_C)'."""
        return self._docgen(self.expr, top=True)

    def _docgen(self, cond, top=False):
        if isinstance(cond, str):
            return cond
        if 'not' in cond:
            return 'not ' + self._docgen(cond['not'])
        op = ' and ' if 'all' in cond else ' or '
        parts = [self._docgen(c) for c in (cond.get('all') or cond['any'])]
        if len(parts) == 1:
            return parts[0]
        ret = op.join(parts)
        return ret if top else '(' + ret + ')'


def gen_if(ifcond):
    if not ifcond:
        return ''
    return '#if %s\n' % ifcond.cgen()


def gen_endif(ifcond):
    if not ifcond:
        return ''
    return '#endif  // %s\n' % ifcond.cgen()


def wrap_if(ifcond, text):
    """Surrounds generated text with #if/#endif when ifcond is set."""
    if not ifcond or not text:
        return text
    return gen_if(ifcond) + text + gen_endif(ifcond)


def comment_lines(text, indent='', width=100):
    """Text as '// ' comment lines, re-wrapped to the column limit."""
    out = []
    for para in text.split('\n\n'):
        words = para.split()
        line = ''
        for word in words:
            if line and len(indent) + 3 + len(line) + 1 + len(word) > width:
                out.append(indent + '// ' + line)
                line = word
            else:
                line = line + ' ' + word if line else word
        if line:
            out.append(indent + '// ' + line)
        out.append(indent + '//')
    while out and out[-1].strip() == '//':
        out.pop()
    return '\n'.join(out) + '\n' if out else ''
