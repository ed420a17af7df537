# SPDX-License-Identifier: GPL-2.0-or-later
"""The checked schema: entities (types, commands, events) with resolved
references.

QAPISchema(fname) parses, checks and resolves a schema or raises
QAPIError.  The back ends walk `entities` (definition order) and use the
attributes documented on each class.
"""

from . import cpp
from .cpp import IfCond
from .error import QAPISemError
from .expr import check_exprs
from .parser import Parser

# Built-in types: name -> (JSON type for introspection, C++ type).
BUILTINS = {
    'str': ('string', 'std::string'),
    'number': ('number', 'double'),
    'int': ('int', 'int64_t'),
    'int8': ('int', 'int8_t'),
    'int16': ('int', 'int16_t'),
    'int32': ('int', 'int32_t'),
    'int64': ('int', 'int64_t'),
    'uint8': ('int', 'uint8_t'),
    'uint16': ('int', 'uint16_t'),
    'uint32': ('int', 'uint32_t'),
    'uint64': ('int', 'uint64_t'),
    'size': ('int', 'uint64_t'),
    'bool': ('boolean', 'bool'),
    'null': ('null', 'std::nullptr_t'),
    'any': ('value', 'nlohmann::json'),
}

SPECIAL_FEATURES = ('deprecated', 'unstable')

# The enum the 'run-states' extension refers to.
RUN_STATE_ENUM = 'RunState'


class Feature:
    role = 'feature'

    def __init__(self, name, info, ifcond=None):
        self.name = name
        self.info = info
        self.ifcond = ifcond or IfCond()

    def is_special(self):
        return self.name in SPECIAL_FEATURES

    def describe(self, info=None):
        return "feature '%s'" % self.name


def check_features(features, info):
    seen = {}
    for feat in features:
        if feat.name in seen:
            raise QAPISemError(info, "feature '%s' is listed twice"
                               % feat.name)
        seen[feat.name] = feat


class Entity:
    """Something defined in the schema (or built in)."""

    meta = None

    def __init__(self, name, info, doc=None, ifcond=None, features=None):
        self.name = name
        self.info = info
        self.doc = doc
        self.ifcond = ifcond or IfCond()
        self.features = features or []
        self._checked = False

    @property
    def module(self):
        return self.info.fname if self.info else None

    def is_implicit(self):
        return self.info is None or self.name.startswith('q_')

    def describe(self):
        return "%s '%s'" % (self.meta, self.name)

    def check(self, schema):
        check_features(self.features, self.info)

    def has_feature(self, name):
        return any(f.name == name for f in self.features)


# Types ---------------------------------------------------------------------

class Type(Entity):
    def json_type(self):
        raise NotImplementedError

    def alternate_qtype(self):
        """The JSON kind that selects this type in an alternate."""
        return {'string': 'string', 'number': 'number', 'int': 'number',
                'boolean': 'boolean', 'null': 'null',
                'object': 'object'}.get(self.json_type())

    def cpp_type(self, prefix=''):
        """The C++ type; prefix qualifies schema-defined type names (e.g.
        'qapi::' or '::colo::qapi::')."""
        raise NotImplementedError

    def is_scalar(self):
        """Passed by value (int, bool, double, enum) rather than by
        const reference."""
        return False

    def members_for_doc(self):
        return []


class BuiltinType(Type):
    meta = 'built-in'

    def __init__(self, name, json_type, cpp_type):
        super().__init__(name, None)
        self._json_type = json_type
        self._cpp_type = cpp_type

    def json_type(self):
        return self._json_type

    def cpp_type(self, prefix=''):
        return self._cpp_type

    def is_scalar(self):
        return self.name not in ('str', 'any')

    def is_int(self):
        return self._json_type == 'int'


class EnumMember:
    role = 'value'

    def __init__(self, name, info, ifcond=None, features=None):
        self.name = name
        self.info = info
        self.ifcond = ifcond or IfCond()
        self.features = features or []

    def describe(self, info=None):
        return "value '%s'" % self.name


class EnumType(Type):
    meta = 'enum'

    def __init__(self, name, info, doc, ifcond, features, members, prefix):
        super().__init__(name, info, doc, ifcond, features)
        self.members = members
        self.prefix = prefix

    def check(self, schema):
        super().check(schema)
        seen = {}
        for m in self.members:
            check_features(m.features, self.info)
            key = cpp.c_name(m.name)
            if key in seen:
                raise QAPISemError(
                    self.info, "value '%s' collides with value '%s'"
                    % (m.name, seen[key].name))
            seen[key] = m
        consts = {}
        for m in self.members:
            const = cpp.enum_const(m.name)
            if const in consts:
                raise QAPISemError(
                    self.info, "values '%s' and '%s' both become C++"
                    " enumerator %s" % (consts[const].name, m.name, const))
            consts[const] = m

    def member_names(self):
        return [m.name for m in self.members]

    def json_type(self):
        return 'string'

    def cpp_type(self, prefix=''):
        return prefix + cpp.type_name(self.name)

    def is_scalar(self):
        return True

    def members_for_doc(self):
        return self.members


class ArrayType(Type):
    meta = 'array'

    def __init__(self, name, info, element_type_name):
        super().__init__(name, info)
        self._element_type_name = element_type_name
        self.element_type = None

    def check(self, schema):
        if self._checked:
            return
        self._checked = True
        self.element_type = schema.resolve_type(
            self._element_type_name, self.info, self._what)
        # An array is as conditional as its element type.
        self.ifcond = self.element_type.ifcond

    _what = 'array'

    def set_what(self, what):
        self._what = what

    def json_type(self):
        return 'array'

    def cpp_type(self, prefix=''):
        return 'std::vector<%s>' % self.element_type.cpp_type(prefix)

    def describe(self):
        return 'array of %s' % self.element_type.describe()


class Member:
    """A member of an object type (struct member, union base member,
    command argument, event data member)."""

    role = 'member'

    def __init__(self, name, info, typ, optional, ifcond=None, features=None):
        self.name = name
        self.info = info
        self._type_name = typ
        self.type = None
        self.optional = optional
        self.ifcond = ifcond or IfCond()
        self.features = features or []
        self.defined_in = None   # name of the ObjectType that declares it

    def check(self, schema):
        what = self.describe(self.info)
        self.type = schema.resolve_type(self._type_name, self.info, what)
        check_features(self.features, self.info)

    def cpp_name(self):
        return cpp.member_name(self.name)

    def describe(self, info):
        role = self.role
        owner = self.defined_in or ''
        if owner.startswith('q_obj_'):
            if owner.endswith('-arg'):
                role = 'argument' if info and info.defn_meta == 'command' \
                    else 'member'
            elif owner.endswith('-base'):
                role = 'base member'
            return "%s '%s'" % (role, self.name)
        if info and info.defn_name and owner != info.defn_name:
            return "member '%s' of type '%s'" % (self.name, owner)
        return "%s '%s'" % (role, self.name)

    def check_clash(self, info, seen):
        key = cpp.member_name(self.name)
        if key in seen:
            raise QAPISemError(
                info, "%s collides with %s"
                % (self.describe(info), seen[key].describe(info)))
        seen[key] = self


class Branch:
    """A branch of a union or an alternate."""

    role = 'branch'

    def __init__(self, name, info, typ, ifcond=None):
        self.name = name
        self.info = info
        self._type_name = typ
        self.type = None
        self.ifcond = ifcond or IfCond()
        self.implicit = False

    def describe(self, info=None):
        return "branch '%s'" % self.name

    def cpp_name(self):
        return cpp.member_name(self.name)


class Variants:
    """The branches of a union, selected by its discriminator member."""

    def __init__(self, discriminator, info, branches):
        self.discriminator = discriminator
        self.info = info
        self.branches = branches
        self.tag_member = None

    def check(self, schema, owner, seen):
        base_what = ("'base'" if owner.base.is_implicit()
                     else "base type '%s'" % owner.base.name)
        tag = next((m for m in owner.members
                    if m.name == self.discriminator), None)
        if tag is None:
            raise QAPISemError(
                self.info, "discriminator '%s' is not a member of %s"
                % (self.discriminator, base_what))
        if not isinstance(tag.type, EnumType):
            raise QAPISemError(
                self.info, "discriminator member '%s' of %s must be of enum"
                " type" % (self.discriminator, base_what))
        if tag.optional:
            raise QAPISemError(
                self.info, "discriminator member '%s' of %s must not be"
                " optional" % (self.discriminator, base_what))
        if tag.ifcond:
            raise QAPISemError(
                self.info, "discriminator member '%s' of %s must not be"
                " conditional" % (self.discriminator, base_what))
        self.tag_member = tag
        values = {m.name: m for m in tag.type.members}
        for b in self.branches:
            if b.name not in values:
                raise QAPISemError(
                    self.info, "branch '%s' is not a value of %s"
                    % (b.name, tag.type.describe()))
            b.type = schema.resolve_type(b._type_name, self.info,
                                         b.describe())
            if not isinstance(b.type, ObjectType) or b.type.variants:
                raise QAPISemError(
                    self.info, "branch '%s' cannot use %s"
                    % (b.name, b.type.describe()))
            b.type.check(schema)
            for m in b.type.members:
                m.check_clash(self.info, dict(seen))
        # Enum values without a branch get an implicit empty one.
        explicit = {b.name for b in self.branches}
        for m in tag.type.members:
            if m.name not in explicit:
                b = Branch(m.name, self.info, 'q_empty', m.ifcond)
                b.type = schema.the_empty_object_type
                b.implicit = True
                self.branches.append(b)


class ObjectType(Type):
    """A struct or a union (meta 'struct'/'union'), or an implicit type:
    a command's or event's anonymous 'data' ('q_obj_NAME-arg'), a union's
    anonymous base ('q_obj_NAME-base'), or 'q_empty'."""

    def __init__(self, name, info, doc, ifcond, features, base, local_members,
                 variants, meta='struct'):
        super().__init__(name, info, doc, ifcond, features)
        self.meta = meta
        self._base_name = base
        self.base = None
        self.local_members = local_members
        for m in local_members:
            m.defined_in = name
        self.variants = variants
        self.members = None      # base members + local members, flattened
        self._checking = False

    def check(self, schema):
        if self._checked:
            return
        if self._checking:
            raise QAPISemError(self.info,
                               "object %s contains itself" % self.name)
        self._checking = True
        super().check(schema)
        if self.features and not self.is_implicit():
            for f in self.features:
                if f.is_special():
                    raise QAPISemError(
                        self.info, "feature '%s' is not supported for types"
                        % f.name)
        seen = {}
        members = []
        if self._base_name:
            self.base = schema.resolve_type(self._base_name, self.info,
                                            "'base'")
            if not isinstance(self.base, ObjectType) or self.base.variants:
                raise QAPISemError(
                    self.info, "'base' requires a struct type, got %s"
                    % self.base.describe())
            self.base.check(schema)
            for m in self.base.members:
                m.check_clash(self.info, seen)
            members = list(self.base.members)
        for m in self.local_members:
            m.check(schema)
            m.check_clash(self.info, seen)
        self.members = members + self.local_members
        if self.variants:
            self.variants.check(schema, self, seen)
        self._checking = False
        self._checked = True

    def is_empty(self):
        return not self.members and not self.variants

    def json_type(self):
        return 'object'

    def cpp_type(self, prefix=''):
        return prefix + cpp.type_name(self.name)

    def members_for_doc(self):
        """Members documented in this definition's comment."""
        ret = list(self.local_members)
        if self.base and self.base.is_implicit():
            ret = list(self.base.local_members) + ret
        return ret


class AlternateType(Type):
    meta = 'alternate'

    def __init__(self, name, info, doc, ifcond, features, branches):
        super().__init__(name, info, doc, ifcond, features)
        self.branches = branches

    def check(self, schema):
        if self._checked:
            return
        self._checked = True
        super().check(schema)
        for f in self.features:
            if f.is_special():
                raise QAPISemError(
                    self.info, "feature '%s' is not supported for types"
                    % f.name)
        seen = {}
        for i, b in enumerate(self.branches):
            b.type = schema.resolve_type(b._type_name, self.info,
                                         b.describe())
            if (isinstance(b.type, AlternateType)
                    or b.type.name == 'any'):
                raise QAPISemError(self.info, "%s cannot use %s"
                                   % (b.describe(), b.type.describe()))
            qtype = b.type.alternate_qtype()
            if qtype in seen:
                raise QAPISemError(
                    self.info, "%s can't be distinguished from '%s'"
                    % (b.describe(), seen[qtype].name))
            seen[qtype] = b
            if i == 0 and b.ifcond:
                raise QAPISemError(
                    self.info, "%s is the first branch and must not be"
                    " conditional (the C++ variant needs it)"
                    % b.describe())

    def json_type(self):
        return 'value'

    def alternate_qtype(self):
        return None

    def cpp_type(self, prefix=''):
        return prefix + cpp.type_name(self.name)

    def members_for_doc(self):
        return self.branches


# Commands and events ---------------------------------------------------------

class Command(Entity):
    meta = 'command'

    def __init__(self, name, info, doc, ifcond, features, arg_type, ret_type,
                 gen, success_response, boxed, allow_oob, allow_preconfig,
                 run_states):
        super().__init__(name, info, doc, ifcond, features)
        self._arg_type_name = arg_type
        self._ret_type_name = ret_type
        self.arg_type = None
        self.ret_type = None
        self.gen = gen
        self.success_response = success_response
        self.boxed = boxed
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig
        self.run_states = run_states   # list of RunState value names or None

    def check(self, schema):
        super().check(schema)
        if self._arg_type_name:
            self.arg_type = schema.resolve_type(self._arg_type_name,
                                                self.info, "'data'")
            if self.boxed:
                if not isinstance(self.arg_type, ObjectType):
                    raise QAPISemError(
                        self.info, "command's 'data' cannot take %s"
                        % self.arg_type.describe())
            elif (not isinstance(self.arg_type, ObjectType)
                  or self.arg_type.variants):
                if isinstance(self.arg_type, ObjectType):
                    raise QAPISemError(
                        self.info, "command's 'data' can take %s only with"
                        " 'boxed': true" % self.arg_type.describe())
                raise QAPISemError(
                    self.info, "command's 'data' cannot take %s"
                    % self.arg_type.describe())
            self.arg_type.check(schema)
            if not self.boxed:
                for m in self.arg_type.members:
                    if m.cpp_name() == 'ctx':
                        raise QAPISemError(
                            self.info, "argument '%s' clashes with the"
                            " handler's QmpContext parameter 'ctx'" % m.name)
        if self._ret_type_name:
            self.ret_type = schema.resolve_type(self._ret_type_name,
                                                self.info, "'returns'")
            exceptions = self.info.pragma.command_returns_exceptions
            if self.name not in exceptions:
                typ = self.ret_type
                if isinstance(typ, ArrayType):
                    typ = typ.element_type
                if not isinstance(typ, ObjectType):
                    raise QAPISemError(
                        self.info, "command's 'returns' cannot take %s"
                        % self.ret_type.describe())
        if self.run_states is not None:
            enum = schema.lookup_entity(RUN_STATE_ENUM)
            if not isinstance(enum, EnumType):
                raise QAPISemError(
                    self.info, "'run-states' requires enum type '%s'"
                    % RUN_STATE_ENUM)
            if len(enum.members) > 64:
                raise QAPISemError(
                    self.info, "'run-states' needs enum '%s' to have at most"
                    " 64 values" % RUN_STATE_ENUM)
            values = enum.member_names()
            for state in self.run_states:
                if state not in values:
                    raise QAPISemError(
                        self.info, "'run-states' value '%s' is not a value of"
                        " enum type '%s'" % (state, RUN_STATE_ENUM))

    def special_features(self):
        return [f for f in self.features if f.is_special()]


class Event(Entity):
    meta = 'event'

    def __init__(self, name, info, doc, ifcond, features, arg_type, boxed):
        super().__init__(name, info, doc, ifcond, features)
        self._arg_type_name = arg_type
        self.arg_type = None
        self.boxed = boxed

    def check(self, schema):
        super().check(schema)
        if self._arg_type_name:
            self.arg_type = schema.resolve_type(self._arg_type_name,
                                                self.info, "'data'")
            if self.boxed:
                if not isinstance(self.arg_type, ObjectType):
                    raise QAPISemError(
                        self.info, "event's 'data' cannot take %s"
                        % self.arg_type.describe())
            elif (not isinstance(self.arg_type, ObjectType)
                  or self.arg_type.variants):
                if isinstance(self.arg_type, ObjectType):
                    raise QAPISemError(
                        self.info, "event's 'data' can take %s only with"
                        " 'boxed': true" % self.arg_type.describe())
                raise QAPISemError(
                    self.info, "event's 'data' cannot take %s"
                    % self.arg_type.describe())
            self.arg_type.check(schema)
            members = [] if self.boxed else self.arg_type.members
            if len(members) > 1 and all(m.ifcond for m in members):
                raise QAPISemError(
                    self.info, "event's 'data' needs a member without 'if'"
                    " (the C++ sender's parameter list needs one)")


# The schema --------------------------------------------------------------------

def _ifcond(expr):
    return IfCond(expr.get('if'))


def _features(features, info):
    return [Feature(f['name'], info, IfCond(f.get('if')))
            for f in (features or [])]


class QAPISchema:
    """A parsed and checked schema.

    entities: every user definition in definition order (plus implicit
    object types and array types after them); docs: every documentation
    comment in order; files: every file read.
    """

    def __init__(self, fname):
        parser = Parser(fname)
        self.files = parser.all_files()
        self.docs = parser.docs
        exprs = check_exprs(parser.exprs)
        self._entity_dict = {}
        self.entities = []          # user definitions, in order
        self._implicit = []         # implicit object and array types
        self._def_builtins()
        for elem in exprs:
            self._def_expr(elem)
        for ent in list(self.entities):
            ent.check(self)
        for ent in list(self._implicit):
            ent.check(self)
        self._check_cpp_names()
        self._check_docs()

    # Definition -------------------------------------------------------------

    def _def_entity(self, ent, implicit=False):
        other = self._entity_dict.get(ent.name)
        if other:
            if other.info:
                raise QAPISemError(
                    ent.info, "'%s' is already defined\n%s: previous"
                    " definition" % (ent.name, other.info.loc()))
            raise QAPISemError(ent.info, "%s is already defined"
                               % other.describe())
        self._entity_dict[ent.name] = ent
        if implicit:
            self._implicit.append(ent)
        elif ent.info is not None:
            self.entities.append(ent)

    def _def_builtins(self):
        for name, (json_type, cpp_type) in BUILTINS.items():
            self._def_entity(BuiltinType(name, json_type, cpp_type))
        self.the_empty_object_type = ObjectType(
            'q_empty', None, None, None, None, None, [], None)
        self._def_entity(self.the_empty_object_type)
        self.the_empty_object_type.check(self)

    def lookup_entity(self, name):
        return self._entity_dict.get(name)

    def lookup_type(self, name):
        ent = self._entity_dict.get(name)
        return ent if isinstance(ent, Type) else None

    def resolve_type(self, name, info, what):
        """Resolves a type reference (a name, ['Name'], or an implicit
        type's name); raises "WHAT uses unknown type 'X'"."""
        if isinstance(name, list):
            name = self._make_array_type(name[0], info)
        typ = self.lookup_type(name)
        if typ is None:
            raise QAPISemError(info, "%s uses unknown type '%s'"
                               % (what, name))
        if isinstance(typ, ArrayType):
            if typ.element_type is None:
                typ.set_what(what)
            typ.check(self)
        return typ

    def _make_array_type(self, element_name, info):
        name = element_name + 'List'
        if not self.lookup_type(name):
            self._def_entity(ArrayType(name, info, element_name),
                             implicit=True)
        return name

    def _make_members(self, data, info):
        members = []
        for key, value in data.items():
            optional = key.startswith('*')
            name = key[1:] if optional else key
            members.append(Member(name, info, value['type'], optional,
                                  _ifcond(value),
                                  _features(value.get('features'), info)))
        return members

    def _make_implicit_object_type(self, name, info, ifcond, members):
        if not members and name.endswith('-arg'):
            return None     # 'data': {} is the same as no 'data' (QEMU)
        typ = ObjectType(name, info, None, ifcond, None, None,
                         self._make_members(members, info), None)
        self._def_entity(typ, implicit=True)
        return name

    def _def_expr(self, elem):
        expr, info, doc = elem.expr, elem.info, elem.doc
        if 'include' in expr:
            return
        ifcond = _ifcond(expr)
        features = _features(expr.get('features'), info)
        if 'enum' in expr:
            members = [EnumMember(m['name'], info, _ifcond(m),
                                  _features(m.get('features'), info))
                       for m in expr['data']]
            self._def_entity(EnumType(expr['enum'], info, doc, ifcond,
                                      features, members, expr.get('prefix')))
        elif 'struct' in expr:
            self._def_entity(ObjectType(
                expr['struct'], info, doc, ifcond, features,
                expr.get('base'), self._make_members(expr['data'], info),
                None))
        elif 'union' in expr:
            name = expr['union']
            base = expr['base']
            if isinstance(base, dict):
                base = self._make_implicit_object_type(
                    'q_obj_%s-base' % name, info, ifcond, base)
            branches = [Branch(key, info, value['type'], _ifcond(value))
                        for key, value in expr['data'].items()]
            self._def_entity(ObjectType(
                name, info, doc, ifcond, features, base, [],
                Variants(expr['discriminator'], info, branches),
                meta='union'))
        elif 'alternate' in expr:
            branches = [Branch(key, info, value['type'], _ifcond(value))
                        for key, value in expr['data'].items()]
            self._def_entity(AlternateType(expr['alternate'], info, doc,
                                           ifcond, features, branches))
        elif 'command' in expr:
            name = expr['command']
            data = expr.get('data')
            if isinstance(data, dict):
                data = self._make_implicit_object_type(
                    'q_obj_%s-arg' % name, info, ifcond, data)
            self._def_entity(Command(
                name, info, doc, ifcond, features, data, expr.get('returns'),
                expr.get('gen', True), expr.get('success-response', True),
                expr.get('boxed', False), expr.get('allow-oob', False),
                expr.get('allow-preconfig', False), expr.get('run-states')))
        elif 'event' in expr:
            name = expr['event']
            data = expr.get('data')
            if isinstance(data, dict):
                data = self._make_implicit_object_type(
                    'q_obj_%s-arg' % name, info, ifcond, data)
            self._def_entity(Event(name, info, doc, ifcond, features, data,
                                   expr.get('boxed', False)))

    # Queries for the back ends ------------------------------------------------

    def types(self):
        return [e for e in self.entities if isinstance(e, Type)]

    def commands(self):
        return [e for e in self.entities if isinstance(e, Command)]

    def events(self):
        return [e for e in self.entities if isinstance(e, Event)]

    def implicit_object_types(self):
        return [e for e in self._implicit if isinstance(e, ObjectType)]

    def run_state_enum(self):
        ent = self.lookup_entity(RUN_STATE_ENUM)
        return ent if isinstance(ent, EnumType) else None

    # C++ names ----------------------------------------------------------------

    def _check_cpp_names(self):
        """Distinct QAPI names must stay distinct in C++."""
        tables = {}

        def claim(kind, cname, ent):
            table = tables.setdefault(kind, {})
            other = table.get(cname)
            if other is not None:
                raise QAPISemError(
                    ent.info, "%s and %s both become C++ name %s"
                    % (other.describe(), ent.describe(), cname))
            table[cname] = ent

        for ent in self.entities:
            if isinstance(ent, Type):
                claim('type', cpp.type_name(ent.name), ent)
            elif isinstance(ent, Command):
                claim('command', cpp.command_fn(ent.name), ent)
            elif isinstance(ent, Event):
                claim('event', cpp.enum_const(ent.name), ent)
                claim('event-fn', cpp.event_fn(ent.name), ent)

    # Documentation ------------------------------------------------------------

    def _check_docs(self):
        for ent in self.entities:
            if ent.doc:
                self._check_doc(ent, ent.doc)

    @staticmethod
    def _documented_members(ent):
        """(kind, items) that ent's documentation must describe."""
        if isinstance(ent, EnumType):
            return 'value', ent.members
        if isinstance(ent, AlternateType):
            return 'branch', ent.branches
        if isinstance(ent, ObjectType):
            return 'member', ent.members_for_doc()
        if isinstance(ent, (Command, Event)):
            if ent.arg_type and ent.arg_type.is_implicit():
                return 'argument' if isinstance(ent, Command) else 'member', \
                    ent.arg_type.local_members
            return 'argument', []
        return 'member', []

    def _check_doc(self, ent, doc):
        info = ent.info
        kind, items = self._documented_members(ent)
        names = [m.name for m in items]
        for name in names:
            if name not in doc.args:
                raise QAPISemError(info, "%s '%s' lacks documentation"
                                   % (kind, name))
        for name, sec in doc.args.items():
            if name not in names:
                raise QAPISemError(sec.info, "documented %s '%s' does not"
                                   " exist" % (kind, name))
            if not sec.text:
                raise QAPISemError(sec.info, "description of '@%s:' is"
                                   " empty" % name)
        feats = {f.name for f in ent.features}
        for m in items:
            feats.update(f.name for f in getattr(m, 'features', []))
        for name in sorted(feats):
            if name not in doc.features:
                raise QAPISemError(info, "feature '%s' lacks documentation"
                                   % name)
        for name, sec in doc.features.items():
            if name not in feats:
                raise QAPISemError(sec.info, "documented feature '%s' does"
                                   " not exist" % name)
        if doc.section('Returns') and not (isinstance(ent, Command)
                                           and ent.ret_type):
            raise QAPISemError(doc.section('Returns').info,
                               "'Returns:' is only valid for commands that"
                               " return something")
        since = doc.section('Since')
        if info.pragma.doc_required and since is None:
            raise QAPISemError(info, "documentation of %s lacks a 'Since:'"
                               " section" % ent.describe())
        if since is not None and (not since.text or '\n' in since.text):
            raise QAPISemError(since.info, "'Since:' needs the version on"
                               " the same line, e.g. 'Since: 7.2'")
