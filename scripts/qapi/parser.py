# SPDX-License-Identifier: GPL-2.0-or-later
"""Reads QAPI schema files.

The syntax is QEMU's: a sequence of JSON objects written with single-quoted
strings, 'true'/'false', '#' comments and '##' documentation comments.
Numbers and null do not exist.  Two directives are handled here:

    { 'include': 'other.json' }     # path relative to the including file
    { 'pragma': { 'doc-required': true, ... } }

Each file is read once; later includes of the same file are ignored.
"""

import os
import re

from .doc import Doc
from .error import QAPIParseError, QAPISemError, SourceInfo


class Expr:
    """A top-level schema expression with its location and documentation."""

    def __init__(self, expr, info, doc=None):
        self.expr = expr
        self.info = info
        self.doc = doc


_PRAGMA_LISTS = {
    'command-name-exceptions': 'command_name_exceptions',
    'command-returns-exceptions': 'command_returns_exceptions',
    'member-name-exceptions': 'member_name_exceptions',
}


class Parser:
    """Parses one schema file and, recursively, the files it includes.

    After construction, `exprs` holds the expressions of the whole schema
    in order (includes expanded in place, 'include' expressions kept as
    markers), and `docs` every documentation comment in order.
    """

    def __init__(self, fname, previously_included=None, incl_info=None):
        self.fname = fname
        self.included = (previously_included
                         if previously_included is not None else set())
        self.included.add(os.path.abspath(fname))
        self.exprs = []
        self.docs = []
        try:
            with open(fname, encoding='utf-8') as f:
                self.src = f.read()
        except OSError as e:
            what = 'include file' if incl_info else 'schema file'
            raise QAPISemError(incl_info, "can't read %s '%s': %s"
                               % (what, fname, e.strerror)) from e
        except UnicodeDecodeError as e:
            raise QAPISemError(incl_info, "'%s' is not valid UTF-8" % fname) \
                from e
        if self.src == '' or self.src[-1] != '\n':
            self.src += '\n'
        self.cursor = 0
        self.info = SourceInfo(fname, 1, incl_info)
        self.line_pos = 0
        self.pos = 0
        self.tok = None
        self.val = None
        self._parse()

    # Lexer ---------------------------------------------------------------

    def column(self):
        return self.pos - self.line_pos + 1

    def accept(self, skip_comment=True):
        """Reads the next token into tok/val.

        tok is one of '{', '}', '[', ']', ':', ',', "'" (val: the string),
        't'/'f' (val: True/False), '#' (val: a '##...' or, inside a
        documentation comment, any comment line), or None at the end.
        """
        while True:
            self.tok = self.src[self.cursor]
            self.pos = self.cursor
            self.cursor += 1
            self.val = None

            if self.tok == '#':
                if self.src[self.cursor] == '#':
                    skip_comment = False
                self.cursor = self.src.find('\n', self.cursor)
                if not skip_comment:
                    self.val = self.src[self.pos:self.cursor]
                    return
            elif self.tok in '{}:,[]':
                return
            elif self.tok == "'":
                self.val = self._lex_string()
                return
            elif self.src.startswith('true', self.pos):
                self.val = True
                self.cursor += 3
                return
            elif self.src.startswith('false', self.pos):
                self.val = False
                self.cursor += 4
                return
            elif self.tok == '\n':
                if self.cursor == len(self.src):
                    self.tok = None
                    return
                self.info = self.info.at_line(self.info.line + 1)
                self.line_pos = self.cursor
            elif not self.tok.isspace():
                m = re.match(r'''[^[\]{}:,\s'"]+''', self.src[self.pos:])
                raise QAPIParseError(
                    self, "stray '%s'" % (m.group(0) if m else self.tok),
                    self.column())

    def _lex_string(self):
        string = ''
        esc = False
        while True:
            ch = self.src[self.cursor]
            self.cursor += 1
            if ch == '\n':
                raise QAPIParseError(self, "missing terminating \"'\"",
                                     self.column())
            if esc:
                # Only \\ and \' are needed; nothing else is accepted.
                if ch not in "\\'":
                    raise QAPIParseError(self, "unknown escape \\%s" % ch,
                                         self.column())
                esc = False
            elif ch == '\\':
                esc = True
                continue
            elif ch == "'":
                return string
            if ord(ch) < 32 or ord(ch) >= 127:
                raise QAPIParseError(self, "funny character in string",
                                     self.column())
            string += ch

    # Grammar -------------------------------------------------------------

    def _error(self, msg):
        return QAPIParseError(self, msg, self.column())

    def get_members(self):
        expr = {}
        if self.tok == '}':
            self.accept()
            return expr
        if self.tok != "'":
            raise self._error("expected string or '}'")
        while True:
            key = self.val
            self.accept()
            if self.tok != ':':
                raise self._error("expected ':'")
            self.accept()
            if key in expr:
                raise self._error("duplicate key '%s'" % key)
            expr[key] = self.get_expr()
            if self.tok == '}':
                self.accept()
                return expr
            if self.tok != ',':
                raise self._error("expected ',' or '}'")
            self.accept()
            if self.tok != "'":
                raise self._error("expected string")

    def get_values(self):
        expr = []
        if self.tok == ']':
            self.accept()
            return expr
        if self.tok not in tuple("{['tf"):
            raise self._error("expected '{', '[', ']', string, or boolean")
        while True:
            expr.append(self.get_expr())
            if self.tok == ']':
                self.accept()
                return expr
            if self.tok != ',':
                raise self._error("expected ',' or ']'")
            self.accept()

    def get_expr(self):
        if self.tok == '{':
            self.accept()
            return self.get_members()
        if self.tok == '[':
            self.accept()
            return self.get_values()
        if self.tok in tuple("'tf"):
            val = self.val
            self.accept()
            return val
        raise self._error("expected '{', '[', string, or boolean")

    # Documentation comments -----------------------------------------------

    def get_doc(self):
        """Reads a '##' ... '##' block; returns the list of Doc objects in
        it (a free-form heading starts a new Doc)."""
        if self.val != '##':
            raise self._error(
                "junk after '##' at start of documentation comment")
        docs = []
        doc = Doc(self.info)
        self.accept(False)
        while self.tok == '#':
            if self.val.startswith('##'):
                if self.val != '##':
                    raise self._error(
                        "junk after '##' at end of documentation comment")
                doc.end(self)
                docs.append(doc)
                self.accept()
                return docs
            if self.val.startswith('# ='):
                if doc.symbol:
                    raise self._error(
                        "unexpected '=' markup in definition documentation")
                if doc.body.lines:
                    docs.append(doc)
                    doc = Doc(self.info)
            doc.append_line(self, self.val)
            self.accept(False)
        raise self._error("documentation comment must end with '##'")

    # Top level -----------------------------------------------------------

    def _parse(self):
        cur_doc = None
        self.accept()
        while self.tok is not None:
            info = self.info
            if self.tok == '#':
                self._reject_expr_doc(cur_doc)
                for cur_doc in self.get_doc():
                    self.docs.append(cur_doc)
                continue

            if self.tok != '{':
                raise self._error("expected '{'")
            expr = self.get_expr()
            if 'include' in expr:
                self._reject_expr_doc(cur_doc)
                cur_doc = None
                if len(expr) != 1:
                    raise QAPISemError(info, "invalid 'include' directive")
                include = expr['include']
                if not isinstance(include, str):
                    raise QAPISemError(
                        info, "value of 'include' must be a string")
                self._include(include, info)
            elif 'pragma' in expr:
                self._reject_expr_doc(cur_doc)
                cur_doc = None
                if len(expr) != 1:
                    raise QAPISemError(info, "invalid 'pragma' directive")
                pragma = expr['pragma']
                if not isinstance(pragma, dict):
                    raise QAPISemError(
                        info, "value of 'pragma' must be an object")
                for name, value in pragma.items():
                    self._pragma(name, value, info)
            else:
                if cur_doc and cur_doc.is_freeform():
                    raise QAPISemError(
                        cur_doc.info, "definition documentation required")
                self.exprs.append(Expr(expr, info, cur_doc))
                cur_doc = None
        self._reject_expr_doc(cur_doc)

    @staticmethod
    def _reject_expr_doc(doc):
        if doc and doc.symbol:
            raise QAPISemError(
                doc.info, "documentation for '%s' is not followed by the"
                " definition" % doc.symbol)

    def _include(self, include, info):
        incl_fname = os.path.join(os.path.dirname(self.fname), include)
        incl_abs = os.path.abspath(incl_fname)
        inf = info
        while inf:
            if incl_abs == os.path.abspath(inf.fname):
                raise QAPISemError(info, "inclusion loop for %s" % include)
            inf = inf.parent
        self.exprs.append(Expr({'include': incl_fname}, info))
        if incl_abs in self.included:
            return
        sub = Parser(incl_fname, self.included, info)
        self.exprs.extend(sub.exprs)
        self.docs.extend(sub.docs)

    @staticmethod
    def _pragma(name, value, info):
        pragma = info.pragma
        if name == 'doc-required':
            if not isinstance(value, bool):
                raise QAPISemError(info,
                                   "pragma 'doc-required' must be boolean")
            pragma.doc_required = value
        elif name in _PRAGMA_LISTS:
            if (not isinstance(value, list)
                    or any(not isinstance(v, str) for v in value)):
                raise QAPISemError(
                    info, "pragma %s must be a list of strings" % name)
            getattr(pragma, _PRAGMA_LISTS[name]).extend(value)
        else:
            raise QAPISemError(info, "unknown pragma '%s'" % name)

    def all_files(self):
        """Every schema file read (for the build system's depfile)."""
        return sorted(self.included)
