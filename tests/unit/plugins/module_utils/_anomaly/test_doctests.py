# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every >>> example of the anomaly library."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils import _anomaly

MODULES = sorted(m.name for m in pkgutil.iter_modules(_anomaly.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    mod = importlib.import_module("%s.%s" % (_anomaly.__name__, name))
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_class_has_an_example():
    for name in MODULES:
        mod = importlib.import_module("%s.%s" % (_anomaly.__name__, name))
        for attr, obj in vars(mod).items():
            if isinstance(obj, type) and not attr.startswith("_") and obj.__module__ == mod.__name__:
                assert ">>>" in (obj.__doc__ or ""), "%s.%s has no example" % (name, attr)
