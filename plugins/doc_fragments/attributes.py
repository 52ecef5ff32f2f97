# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module attributes shared by the collection's modules.

The action group fragments are spelled out one by one: ansible-test's
sanity tests read doc fragments as literal strings.
"""
from __future__ import annotations


class ModuleDocFragment:
    """C(actiongroup_NAME): the module is in C(group/lepton.aiops.NAME) of C(module_defaults)."""

    DOCUMENTATION = r"""
options: {}
"""

    ACTIONGROUP_DOCKER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/lepton.aiops.docker) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lepton.aiops.docker
"""

    ACTIONGROUP_MONITORING = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/lepton.aiops.monitoring) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lepton.aiops.monitoring
"""

    ACTIONGROUP_SECURITY = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/lepton.aiops.security) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lepton.aiops.security
"""
