# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to a Docker Engine."""
from __future__ import annotations


class ModuleDocFragment:
    """Docker Engine connection options."""

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker Engine API endpoint, for example C(unix:///var/run/docker.sock)
        or C(tcp://127.0.0.1:2376).
      - When not set, the E(DOCKER_HOST) environment variable, then the local socket.
    type: str
  timeout:
    description:
      - Seconds to wait for one Docker Engine API call.
    type: int
    default: 120
requirements:
  - docker (the Docker SDK for Python) >= 7.0
notes:
  - The modules talk to the Docker Engine API through the Docker SDK for
    Python; no docker CLI is needed on the managed host.
"""

    # The container options of the modules that run replicas (lepton.aiops.docker.container).
    CONTAINER = r"""
options:
  read_only:
    description: Mount the root filesystem read-only.
    type: bool
    default: true
  cap_drop:
    description: Linux capabilities to drop.
    type: list
    elements: str
    default: [ALL]
  cap_add:
    description: Linux capabilities to add back.
    type: list
    elements: str
    default: []
  healthcheck:
    description:
      - Override the image's Docker healthcheck. A replica (a container, or a
        Swarm task) counts as healthy only once the check passes; Swarm
        replaces a task that turns unhealthy.
    type: dict
    suboptions:
      test:
        description: The check command, for example C([CMD, curl, -f, http://127.0.0.1:8000/readyz]).
        type: list
        elements: str
        required: true
      interval:
        description: Seconds between checks.
        type: float
      timeout:
        description: Seconds before one check counts as failed.
        type: float
      retries:
        description: Failed checks before the replica is unhealthy.
        type: int
      start_period:
        description: Seconds of grace after start.
        type: float
"""

    # For the modules that manage Swarm objects (lepton.aiops.docker.swarm).
    SWARM = r"""
options: {}
notes:
  - The Docker Engine must be a Swarm manager. The modules never initialise or
    join a swarm; run C(docker swarm init) (or C(docker swarm join) as a
    manager) first. Swarm mode needs C(live-restore) disabled in the daemon
    configuration.
  - Swarm's routing mesh (C(vip) endpoints, C(ingress) publishing) needs IPVS
    in the kernel; C(dnsrr) endpoints and C(host) mode publishing do not.
"""
