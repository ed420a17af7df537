# SPDX-License-Identifier: GPL-2.0-or-later
"""Documentation comments.

A documentation comment is a block of '#' lines between two '##' lines.
Either it documents the definition that follows it:

    ##
    # @query-status:
    #
    # Returns the run state of the VM.
    #
    # @verbose: say more (since 1.2)
    #
    # Features:
    #
    # @unstable: the output may change
    #
    # Returns: the status
    #
    # Since: 0.14
    #
    # Example:
    #
    #     -> { "execute": "query-status" }
    #     <- { "return": { "running": true, ... } }
    ##

or it is free-form text (headings start with '= ', '== ').

This module only records what the comment says; schema.py checks it
against the definition (every member documented, 'Since:' present).
"""

import re

from .error import QAPIParseError, QAPISemError

# Tagged sections, each of which may appear once (the tag is followed by
# ':' and optionally text on the same line).
SECTION_TAGS = ('Returns', 'Errors', 'Since', 'Note', 'Notes', 'Example',
                'Examples', 'TODO')
_UNIQUE_TAGS = ('Returns', 'Errors', 'Since')

_SYMBOL_RE = re.compile(r'@([^\s:]+):$')
_DESCR_RE = re.compile(r'@([^\s:]+):(?:\s+(.*))?$')
_TAG_RE = re.compile(r'(%s):(.*)$' % '|'.join(SECTION_TAGS))


class Section:
    """A piece of documentation text: the body, a tagged section, or the
    description of one member/value/branch/feature."""

    def __init__(self, info, tag=None, name=None):
        self.info = info
        self.tag = tag          # 'Since', 'Returns', ..., or None
        self.name = name        # member or feature name, or None
        self.lines = []

    def append(self, line):
        self.lines.append(line)

    @property
    def text(self):
        """The text with leading/trailing blank lines removed."""
        lines = list(self.lines)
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        return '\n'.join(lines)


class Doc:
    """One documentation comment."""

    def __init__(self, info):
        self.info = info
        self.symbol = None      # name of the documented definition
        self.body = Section(info)
        self.args = {}          # member/value/branch name -> Section
        self.features = {}      # feature name -> Section
        self.sections = []      # tagged (and trailing untagged) sections
        self._state = 'first'
        self._current = self.body
        self._blank = False     # was the previous line blank?

    def is_freeform(self):
        return self.symbol is None

    def section(self, tag):
        for sec in self.sections:
            if sec.tag == tag:
                return sec
        return None

    def append_line(self, parser, raw):
        """Adds one raw comment line ('#' or '# text')."""
        if raw != '#' and not raw.startswith('# '):
            raise QAPIParseError(parser, "missing space after #")
        line = raw[2:].rstrip()
        info = parser.info

        if self._state == 'first':
            if line.startswith('@'):
                m = _SYMBOL_RE.match(line)
                if not m:
                    raise QAPIParseError(
                        parser, "line should be '@NAME:' and nothing else")
                self.symbol = m.group(1)
                self._state = 'body'
            else:
                self._state = 'freeform'
                self.body.append(line)
            return

        if self._state == 'freeform':
            self.body.append(line)
            return

        stripped = line.strip()
        if not stripped:
            self._blank = True
            if self._current is not None:
                self._current.append('')
            return
        blank_before = self._blank
        self._blank = False

        m = _DESCR_RE.match(line)
        if m:
            self._start_description(m.group(1), m.group(2), info)
            return
        if line == 'Features:':
            if self._state == 'tagged':
                raise QAPISemError(
                    info, "'Features:' can't follow '%s' section"
                    % self._last_tag())
            if self._state == 'features':
                raise QAPISemError(info, "duplicated 'Features:' line")
            self._state = 'features'
            self._current = None
            return
        m = _TAG_RE.match(line)
        if m:
            tag = m.group(1)
            if tag in _UNIQUE_TAGS and self.section(tag):
                raise QAPISemError(info, "duplicated '%s' section" % tag)
            sec = Section(info, tag)
            if m.group(2).strip():
                sec.append(m.group(2).strip())
            self.sections.append(sec)
            self._current = sec
            self._state = 'tagged'
            return

        # Plain text.
        if self._state in ('args', 'features'):
            if self._current is None:
                raise QAPISemError(
                    info, "text after 'Features:' must start with"
                    " '@feature-name:'")
            if blank_before and not line[0].isspace():
                # An un-indented paragraph after the descriptions.
                sec = Section(info)
                sec.append(line)
                self.sections.append(sec)
                self._current = sec
                self._state = 'tagged'
                return
            self._current.append(stripped)
            return
        if self._state == 'tagged' and self._current.tag is None:
            self._current.append(line)
            return
        self._current.append(line)

    def _last_tag(self):
        return self.sections[-1].tag or 'text'

    def _start_description(self, name, text, info):
        if self._state == 'tagged':
            raise QAPISemError(
                info, "'@%s:' can't follow '%s' section"
                % (name, self._last_tag()))
        if self._state == 'features':
            table, what = self.features, 'feature'
        else:
            table, what = self.args, 'member'
            self._state = 'args'
        if name in table:
            raise QAPISemError(info, "%s '%s' is documented twice"
                               % (what, name))
        sec = Section(info, name=name)
        if text:
            sec.append(text.strip())
        table[name] = sec
        self._current = sec

    def end(self, parser):
        if self._state == 'first':
            raise QAPIParseError(parser, "documentation comment is empty")
