# SPDX-License-Identifier: GPL-2.0-or-later
"""Source locations and the errors the generator reports.

Every error names a place in the schema, QEMU style:

    In file included from qapi-schema.json:12:
    run-state.json: In command 'stop':
    run-state.json:140: flag 'allow-oob' may only use true value
"""


class Pragma:
    """Schema-wide settings from { 'pragma': {...} } directives."""

    def __init__(self):
        self.doc_required = False
        self.command_name_exceptions = []
        self.command_returns_exceptions = []
        self.member_name_exceptions = []


class SourceInfo:
    """A line in a schema file, the include chain that led there, and the
    definition it belongs to (for the "In command 'x':" context line)."""

    def __init__(self, fname, line, parent):
        self.fname = fname
        self.line = line
        self.parent = parent
        # One pragma object for the whole schema, shared by included files.
        self.pragma = parent.pragma if parent else Pragma()
        self.defn_meta = None
        self.defn_name = None

    def set_defn(self, meta, name):
        self.defn_meta = meta
        self.defn_name = name

    def at_line(self, line):
        info = SourceInfo(self.fname, line, self.parent)
        info.pragma = self.pragma
        return info

    def loc(self):
        return '%s:%d' % (self.fname, self.line)

    def include_path(self):
        ret = ''
        parent = self.parent
        while parent:
            ret = 'In file included from %s:\n' % parent.loc() + ret
            parent = parent.parent
        return ret

    def in_defn(self):
        if self.defn_name:
            return "%s: In %s '%s':\n" % (self.fname, self.defn_meta,
                                          self.defn_name)
        return ''

    def __str__(self):
        return self.include_path() + self.in_defn() + self.loc()


class QAPIError(Exception):
    """An error in the schema; str() gives the full located message."""

    def __init__(self, info, msg, col=None):
        super().__init__(msg)
        self.info = info
        self.msg = msg
        self.col = col

    def __str__(self):
        if self.info is None:
            return self.msg
        loc = str(self.info)
        if self.col is not None:
            loc += ':%d' % self.col
        return '%s: %s' % (loc, self.msg)


class QAPIParseError(QAPIError):
    """A syntax error at the parser's current position (line and column)."""

    def __init__(self, parser, msg, col=None):
        super().__init__(parser.info, msg,
                         parser.column() if col is None else col)


class QAPISemError(QAPIError):
    """A semantic error: the schema parses but makes no sense."""
