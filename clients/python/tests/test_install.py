"""The package installs offline into a venv of Debian's python3 and imports from there."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import support

PACKAGE_DIR = os.path.dirname(support.SRC)
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3") or "python3"
# Debian's ensurepip gives a venv pip and setuptools; setuptools needs the wheel package to build
# a wheel, which Debian ships as a wheel file (python3-wheel-whl) to install offline.
WHEELS = "/usr/share/python-wheels"


@unittest.skipUnless(glob.glob(os.path.join(WHEELS, "wheel-*.whl")), "python3-wheel-whl is not installed (scripts/ci-setup.sh installs it)")
class OfflineInstallTest(unittest.TestCase):
    def test_venv_install_and_import(self) -> None:
        scratch = tempfile.mkdtemp(prefix="sky-py-venv-")
        try:
            venv = os.path.join(scratch, "venv")
            # No index, no pip configuration of this machine: the install must need nothing from outside.
            env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
            env["PIP_CONFIG_FILE"] = os.devnull
            source = os.path.join(scratch, "src")
            # A copy, so building leaves nothing (build/, *.egg-info) in the source tree.
            shutil.copytree(PACKAGE_DIR, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
            run = lambda *args: subprocess.run(args, env=env, cwd=scratch, check=True, capture_output=True, text=True)  # noqa: E731
            run(SYSTEM_PYTHON, "-m", "venv", venv)
            pip = os.path.join(venv, "bin", "pip")
            run(pip, "install", "--no-index", "--find-links", WHEELS, "wheel")
            run(pip, "install", "--no-build-isolation", "--no-index", source)
            out = run(
                os.path.join(venv, "bin", "python"),
                "-c",
                "import sky_client, sys; print(sky_client.__file__); print(sky_client.Client.__name__, sky_client.SkyError.__name__)",
            ).stdout.splitlines()
            self.assertTrue(out[0].startswith(os.path.join(venv, "lib")), out)
            self.assertEqual(out[1], "Client SkyError")
        except subprocess.CalledProcessError as err:
            self.fail("{} failed:\n{}\n{}".format(" ".join(err.cmd), err.stdout, err.stderr))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
