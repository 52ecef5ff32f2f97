# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure numeric anomaly detection for lepton.aiops.

PRIVATE to the lepton.aiops collection: no compatibility promise for other
users. numpy/scipy only; no I/O, no logging, no Ansible imports.

Estimators follow scikit-learn conventions: ``__init__`` stores
hyper-parameters, learned state ends in ``_``, ``fit`` returns ``self``, and a
higher score means more anomalous. Online detectors have a one-point
``score_one`` path and a batch ``score`` path that return the same numbers.
"""

from __future__ import annotations

DETECTORS = ("gaussian", "robust", "seasonal", "ewma", "rolling_zscore", "novelty")
