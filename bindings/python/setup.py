"""Builds libwlra with cargo and puts it inside the wheel (wlra/libwlra.so),
so that ``import wlra`` finds its library without any environment variable.

The crate's sources are at rust/: in the repository, symbolic links to the
crate root two levels up (bindings/python is a subdirectory of the crate);
in an sdist, the files themselves (the sdist follows the links; MANIFEST.in
lists what it takes). cargo runs on the resolved manifest, so a build from
the repository shares the repository's target/ with ``cargo build
--release``, and cargo's own fingerprints decide what to rebuild. CARGO
names the cargo to run, CARGO_TARGET_DIR its build directory, as for cargo.

The library is loaded by ctypes, not imported as an extension module, so it
does not depend on the Python version: the wheel is tagged py3-none-<platform>.
"""

import json
import os
import re
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def library_file_name():
    """The name cargo gives the cdylib, and the binding looks for."""
    if sys.platform == "darwin":
        return "libwlra.dylib"
    if sys.platform == "win32":
        return "wlra.dll"
    return "libwlra.so"


def crate_version():
    """The crate's version (Cargo.toml's [package] version), the one version
    of the project."""
    with open(os.path.join(HERE, "rust", "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    package = re.search(r"^\[package\]$(.*?)(^\[|\Z)", text, re.M | re.S).group(1)
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


def build_library():
    """Runs cargo build --release on the crate; returns the built cdylib's path."""
    manifest = os.path.realpath(os.path.join(HERE, "rust", "Cargo.toml"))
    if not os.path.isfile(manifest):
        sys.exit(f"wlra: no crate at {manifest}: build from the repository or from an sdist (python -m build)")
    cargo = os.environ.get("CARGO", "cargo")
    command = [cargo, "build", "--release", "--lib", "--locked", "--manifest-path", manifest,
               "--message-format=json-render-diagnostics"]
    # pip shows this (and cargo's progress on stderr) with `pip install -v`;
    # without -v it shows "Building wheel" until the build ends.
    print("wlra: building libwlra with cargo (release); a first build compiles the dependencies, "
          "about 3 to 5 minutes on 2 cores", flush=True)
    print("wlra: " + " ".join(command), flush=True)
    try:
        run = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        sys.exit(f"wlra: {cargo!r} not found: building the wlra wheel needs Rust's cargo (https://rustup.rs)")
    if run.returncode != 0:
        sys.exit(f"wlra: cargo build failed (exit status {run.returncode})")
    # cargo's JSON messages name every artifact it built or found fresh.
    name = library_file_name()
    for line in run.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if message.get("reason") == "compiler-artifact" and "cdylib" in message["target"]["crate_types"]:
            for path in message["filenames"]:
                if os.path.basename(path) == name:
                    return path
    sys.exit(f"wlra: cargo built no {name}")


class build_py_with_library(build_py):
    """build_py, then the library copied into the built package."""

    def run(self):
        super().run()
        library = build_library()
        destination = os.path.join(self.build_lib, "wlra", library_file_name())
        self.mkpath(os.path.dirname(destination))
        shutil.copyfile(library, destination)
        os.chmod(destination, 0o755)


class DistributionWithLibrary(Distribution):
    """The package holds a native library: installed to platlib, in a
    platform wheel."""

    def has_ext_modules(self):
        return True


class bdist_wheel_platform(bdist_wheel):
    """A platform wheel for every Python 3: the library does not depend on
    the Python version or ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=crate_version(),
    distclass=DistributionWithLibrary,
    cmdclass={"build_py": build_py_with_library, "bdist_wheel": bdist_wheel_platform},
)
