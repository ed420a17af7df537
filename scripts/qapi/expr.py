# SPDX-License-Identifier: GPL-2.0-or-later
"""Context-free checks and normalization of schema expressions.

Checks what can be checked by looking at one expression alone: its keys,
the spelling of names, flag values, 'if' conditions, 'features' and
'run-states' syntax.  Normalizes in place:

  - member values become dicts: 'str' -> {'type': 'str'}
  - features and enum values become dicts: 'x' -> {'name': 'x'}

Anything that needs the whole schema (types exist, names don't clash,
documentation matches) is in schema.py.
"""

import re

from .error import QAPISemError

# Names consist of letters, digits, '-' and '_', starting with a letter.
# A downstream extension's name starts with '__RFQDN_'; the legacy
# experimental prefix is 'x-'.
VALID_NAME = re.compile(r'(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$',
                        re.IGNORECASE)

METAS = ('enum', 'struct', 'union', 'alternate', 'command', 'event')

# C++ type names the runtime (qapi/qapi-runtime.h, util/error.h) or the
# generated code already use in or around the types namespace.
RESERVED_TYPE_NAMES = ('Box', 'Codec', 'EnumTraits', 'Error', 'ErrorClass',
                       'JsonPath', 'QAPIEvent', 'Result', 'Status')


def check_name_is_str(name, info, source):
    if not isinstance(name, str):
        raise QAPISemError(info, "%s requires a string name" % source)


def check_name_str(name, info, source):
    """Checks a name's characters; returns the stem without prefixes."""
    m = VALID_NAME.match(name)
    # 'q_' is reserved for the generator's implicit names.
    if not m or name.replace('-', '_').lower().startswith('q_'):
        raise QAPISemError(info, "%s has an invalid name" % source)
    return m.group(3)


def check_name_upper(name, info, source):
    stem = check_name_str(name, info, source)
    if re.search(r'[a-z-]', stem):
        raise QAPISemError(
            info, "name of %s must not use lowercase or '-'" % source)


def check_name_lower(name, info, source, permit_upper=False,
                     permit_underscore=False):
    stem = check_name_str(name, info, source)
    if ((not permit_upper and re.search(r'[A-Z]', stem))
            or (not permit_underscore and '_' in stem)):
        raise QAPISemError(
            info, "name of %s must not use uppercase or '_'" % source)


def check_name_camel(name, info, source):
    stem = check_name_str(name, info, source)
    if not re.match(r'[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$', stem):
        raise QAPISemError(info, "name of %s must use CamelCase" % source)


def check_defn_name_str(name, info, meta):
    if meta == 'event':
        check_name_upper(name, info, meta)
    elif meta == 'command':
        check_name_lower(
            name, info, meta,
            permit_underscore=name in info.pragma.command_name_exceptions)
    else:
        check_name_camel(name, info, meta)
        if name.endswith('List'):
            raise QAPISemError(
                info, "%s name should not end in 'List'" % meta)
        if name in RESERVED_TYPE_NAMES:
            raise QAPISemError(
                info, "%s name '%s' is reserved for the C++ runtime"
                % (meta, name))


def check_keys(value, info, source, required, optional):

    def pprint(elems):
        return ', '.join("'" + e + "'" for e in sorted(elems))

    missing = set(required) - set(value)
    if missing:
        raise QAPISemError(
            info, "%s misses key%s %s"
            % (source, 's' if len(missing) > 1 else '', pprint(missing)))
    allowed = set(required) | set(optional)
    unknown = set(value) - allowed
    if unknown:
        raise QAPISemError(
            info, "%s has unknown key%s %s\nValid keys are %s."
            % (source, 's' if len(unknown) > 1 else '', pprint(unknown),
               pprint(allowed)))


def check_flags(expr, info):
    for key in ('gen', 'success-response'):
        if key in expr and expr[key] is not False:
            raise QAPISemError(
                info, "flag '%s' may only use false value" % key)
    for key in ('boxed', 'allow-oob', 'allow-preconfig'):
        if key in expr and expr[key] is not True:
            raise QAPISemError(
                info, "flag '%s' may only use true value" % key)


def check_if(expr, info, source):
    """Checks an 'if' condition: a CONFIG_* symbol, or an object
    {'all': [...]}, {'any': [...]} or {'not': COND}."""

    def _check(cond):
        if isinstance(cond, str):
            if not re.fullmatch(r'[A-Z][A-Z0-9_]*', cond):
                raise QAPISemError(
                    info, "'if' condition '%s' of %s is not a valid"
                    " identifier" % (cond, source))
            if not cond.startswith('CONFIG_') or cond == 'CONFIG_':
                raise QAPISemError(
                    info, "'if' condition '%s' of %s must name a CONFIG_*"
                    " symbol" % (cond, source))
            return
        if not isinstance(cond, dict):
            raise QAPISemError(
                info, "'if' condition of %s must be a string or an object"
                % source)
        check_keys(cond, info, "'if' condition of %s" % source, [],
                   ['all', 'any', 'not'])
        if len(cond) != 1:
            raise QAPISemError(
                info, "'if' condition of %s has conflicting keys" % source)
        if 'not' in cond:
            _check(cond['not'])
            return
        op = 'all' if 'all' in cond else 'any'
        operands = cond[op]
        if not isinstance(operands, list):
            raise QAPISemError(
                info, "'%s' condition of %s must be an array" % (op, source))
        if not operands:
            raise QAPISemError(
                info, "'if' condition [] of %s is useless" % source)
        for operand in operands:
            _check(operand)

    if 'if' in expr:
        _check(expr['if'])


def normalize_members(members):
    if isinstance(members, dict):
        for key, arg in members.items():
            if not isinstance(arg, dict):
                members[key] = {'type': arg}


def check_type(value, info, source, allow_array=False, allow_dict=False):
    """Checks a type reference: a name, ['Name'] (if allow_array), or an
    anonymous struct {member: type, ...} (if allow_dict; a string value
    names the definition, for pragma 'member-name-exceptions')."""
    if value is None:
        return
    if isinstance(value, str):
        return
    if isinstance(value, list):
        if not allow_array:
            raise QAPISemError(info, "%s cannot be an array" % source)
        if len(value) != 1 or not isinstance(value[0], str):
            raise QAPISemError(
                info, "%s: array type must contain single type name"
                % source)
        return
    if not allow_dict:
        raise QAPISemError(info, "%s should be a type name" % source)
    if not isinstance(value, dict):
        raise QAPISemError(
            info, "%s should be an object or type name" % source)

    permissive = (isinstance(allow_dict, str)
                  and allow_dict in info.pragma.member_name_exceptions)
    for key, arg in value.items():
        key_source = "%s member '%s'" % (source, key)
        if key.startswith('*'):
            key = key[1:]
        check_name_lower(key, info, key_source, permit_upper=permissive,
                         permit_underscore=permissive)
        cname = key.replace('-', '_').replace('.', '_')
        if cname == 'u' or cname.startswith('has_'):
            raise QAPISemError(info, "%s uses reserved name" % key_source)
        check_keys(arg, info, key_source, ['type'], ['if', 'features'])
        check_if(arg, info, key_source)
        check_features(arg.get('features'), info)
        check_type(arg['type'], info, key_source, allow_array=True)


def check_features(features, info):
    if features is None:
        return
    if not isinstance(features, list):
        raise QAPISemError(info, "'features' must be an array")
    features[:] = [f if isinstance(f, dict) else {'name': f}
                   for f in features]
    for feat in features:
        source = "'features' member"
        check_keys(feat, info, source, ['name'], ['if'])
        check_name_is_str(feat['name'], info, source)
        source = "%s '%s'" % (source, feat['name'])
        check_name_lower(feat['name'], info, source)
        check_if(feat, info, source)


def check_enum(expr, info):
    name = expr['enum']
    members = expr['data']
    prefix = expr.get('prefix')

    if not isinstance(members, list):
        raise QAPISemError(info, "'data' must be an array")
    if not members:
        raise QAPISemError(info, "'data' must not be empty")
    if prefix is not None and not isinstance(prefix, str):
        raise QAPISemError(info, "'prefix' must be a string")

    permissive = name in info.pragma.member_name_exceptions
    members[:] = [m if isinstance(m, dict) else {'name': m} for m in members]
    for member in members:
        source = "'data' member"
        check_keys(member, info, source, ['name'], ['if', 'features'])
        member_name = member['name']
        check_name_is_str(member_name, info, source)
        source = "%s '%s'" % (source, member_name)
        # Enum values may start with a digit.
        if member_name[:1].isdigit():
            member_name = 'd' + member_name
        check_name_lower(member_name, info, source, permit_upper=permissive,
                         permit_underscore=permissive)
        check_if(member, info, source)
        check_features(member.get('features'), info)


def check_struct(expr, info):
    check_type(expr['data'], info, "'data'", allow_dict=expr['struct'])
    check_type(expr.get('base'), info, "'base'")


def check_union(expr, info):
    name = expr['union']
    members = expr['data']
    check_type(expr['base'], info, "'base'", allow_dict=name)
    check_name_is_str(expr['discriminator'], info, "'discriminator'")
    if not isinstance(members, dict):
        raise QAPISemError(info, "'data' must be an object")
    for key, value in members.items():
        source = "'data' member '%s'" % key
        check_keys(value, info, source, ['type'], ['if'])
        check_if(value, info, source)
        check_type(value['type'], info, source)


def check_alternate(expr, info):
    members = expr['data']
    if not members:
        raise QAPISemError(info, "'data' must not be empty")
    if not isinstance(members, dict):
        raise QAPISemError(info, "'data' must be an object")
    for key, value in members.items():
        source = "'data' member '%s'" % key
        check_name_lower(key, info, source)
        check_keys(value, info, source, ['type'], ['if'])
        check_if(value, info, source)
        check_type(value['type'], info, source)


def check_run_states(expr, info):
    """colovm extension: 'run-states': ['running', 'paused', ...]."""
    states = expr.get('run-states')
    if states is None:
        return
    if (not isinstance(states, list)
            or any(not isinstance(s, str) for s in states)):
        raise QAPISemError(info, "'run-states' must be an array of strings")
    if not states:
        raise QAPISemError(
            info, "'run-states' must not be empty (omit it to allow every"
            " run state)")
    seen = set()
    for state in states:
        if state in seen:
            raise QAPISemError(info, "'run-states' lists '%s' twice" % state)
        seen.add(state)


def check_command(expr, info):
    args = expr.get('data')
    boxed = expr.get('boxed', False)
    if boxed and args is None:
        raise QAPISemError(info, "'boxed': true requires 'data'")
    check_type(args, info, "'data'", allow_dict=not boxed)
    check_type(expr.get('returns'), info, "'returns'", allow_array=True)
    check_run_states(expr, info)


def check_event(expr, info):
    args = expr.get('data')
    boxed = expr.get('boxed', False)
    if boxed and args is None:
        raise QAPISemError(info, "'boxed': true requires 'data'")
    check_type(args, info, "'data'", allow_dict=not boxed)


def check_exprs(exprs):
    """Checks and normalizes every definition; returns the list."""
    for elem in exprs:
        expr = elem.expr
        info = elem.info
        doc = elem.doc

        if 'include' in expr:
            continue

        metas = [k for k in METAS if k in expr]
        if len(metas) != 1:
            raise QAPISemError(
                info, "expression must have exactly one key 'enum',"
                " 'struct', 'union', 'alternate', 'command', 'event'")
        meta = metas[0]

        check_name_is_str(expr[meta], info, "'%s'" % meta)
        name = expr[meta]
        info.set_defn(meta, name)
        check_defn_name_str(name, info, meta)

        if doc:
            if doc.symbol != name:
                raise QAPISemError(
                    info, "documentation comment is for '%s'" % doc.symbol)
        elif info.pragma.doc_required:
            raise QAPISemError(info, "documentation comment required")

        if meta == 'enum':
            check_keys(expr, info, meta, ['enum', 'data'],
                       ['if', 'features', 'prefix'])
            check_enum(expr, info)
        elif meta == 'union':
            check_keys(expr, info, meta,
                       ['union', 'base', 'discriminator', 'data'],
                       ['if', 'features'])
            normalize_members(expr.get('base'))
            normalize_members(expr['data'])
            check_union(expr, info)
        elif meta == 'alternate':
            check_keys(expr, info, meta, ['alternate', 'data'],
                       ['if', 'features'])
            normalize_members(expr['data'])
            check_alternate(expr, info)
        elif meta == 'struct':
            check_keys(expr, info, meta, ['struct', 'data'],
                       ['base', 'if', 'features'])
            normalize_members(expr['data'])
            check_struct(expr, info)
        elif meta == 'command':
            check_keys(expr, info, meta, ['command'],
                       ['data', 'returns', 'boxed', 'if', 'features', 'gen',
                        'success-response', 'allow-oob', 'allow-preconfig',
                        'run-states'])
            normalize_members(expr.get('data'))
            check_command(expr, info)
        else:
            check_keys(expr, info, meta, ['event'],
                       ['data', 'boxed', 'if', 'features'])
            normalize_members(expr.get('data'))
            check_event(expr, info)

        check_if(expr, info, meta)
        check_features(expr.get('features'), info)
        check_flags(expr, info)

    return exprs
