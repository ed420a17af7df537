# SPDX-License-Identifier: GPL-2.0-or-later
"""colovm's QAPI code generator: schema parser, checker and C++ back ends."""
