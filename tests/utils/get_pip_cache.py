"""Write the pip bootstrap script that ansible-test would download.

ansible-test creates each test virtualenv without pip and bootstraps it with
``get-pip-<version>.py`` fetched from ci-files.testing.ansible.com, which is
not reachable from CI. It uses ``~/.ansible/test/cache/get_pip_<v>.py`` when
present, so this writes a small equivalent there: it installs the bundled pip
with ensurepip, then the exact pip version ansible-test asked for from PyPI.
"""
import os
import re
import subprocess
import sys

import ansible_test

SCRIPT = '''\
"""Stand-in for get-pip.py: bundled pip first, then the requested version."""
import ensurepip
import os
import subprocess
import sys

# ansible-test runs pip with a reduced environment; carry over this machine's
# pip settings (certificate bundle, indexes) as the venv's own pip.conf.
with open(os.path.join(sys.prefix, "pip.conf"), "w") as conf:
    conf.write(%r)
environ = dict(os.environ)
ensurepip.bootstrap(upgrade=True)  # sets PIP_CONFIG_FILE=/dev/null in os.environ
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args, env=environ)
'''


def pip_settings():
    """This machine's effective pip settings, as a pip.conf text."""
    out = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'],
                         capture_output=True, text=True, check=False).stdout
    settings = {}
    for line in out.splitlines():
        key, _sep, value = line.partition('=')
        name = key.split('.', 1)[-1]
        if name in ('cert', 'index-url', 'extra-index-url', 'find-links', 'default-timeout'):
            settings[name] = value.strip().strip("'")
    return '[global]\n' + ''.join('%s = %s\n' % item for item in sorted(settings.items()))


def main():
    source = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
    with open(source, encoding='utf-8') as handle:
        versions = set(re.findall(r"pip='([0-9.]+)'", handle.read()))
    if not versions:
        sys.exit('could not find the pip version ansible-test bootstraps in %s' % source)
    cache = os.path.expanduser('~/.ansible/test/cache')
    os.makedirs(cache, exist_ok=True)
    for version in sorted(versions):
        path = os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_'))
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(SCRIPT % pip_settings())
        print('wrote %s' % path)


if __name__ == '__main__':
    main()
