"""Build hook: compiles the optional native speed-ups next to their Python modules.

Each extension is a plain C file with no dependency but Python's
headers, compiled with the compiler Python itself was built with. Where there
is no compiler the build goes on without it and the pure-Python code serves
(same results, slower); `AILOGS_NATIVE=0` skips it on purpose, and
`AILOGS_NATIVE=1` makes a failed compile an error.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSIONS = {
    "ailogs.analysis._shapekey": "src/ailogs/analysis/_shapekey.c",
    "ailogs._answer_rows": "src/ailogs/_answer_rows.c",
}


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles each extension in place; wheels name the compiled files."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        wanted = os.environ.get("AILOGS_NATIVE", "")
        if wanted == "0":
            return
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        for name, source in EXTENSIONS.items():
            target = Path(self.root, "src", *name.split(".")).with_suffix("")
            built = target.parent / f"{target.name}{suffix}"
            try:
                _compile(Path(self.root, source), built)
            except (OSError, subprocess.CalledProcessError) as error:
                if wanted == "1":
                    raise
                detail = getattr(error, "stderr", None) or str(error)
                self.app.display_warning(f"{name} not compiled, pure Python serves: {detail}")
                continue
            if version != "editable":
                # The compiled file is ignored by git, so it is named explicitly.
                build_data["force_include"][str(built)] = f"{name.replace('.', '/')}{suffix}"
                build_data["pure_python"] = False
                build_data["infer_tag"] = True


def _compile(source: Path, built: Path) -> None:
    linker = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    include = sysconfig.get_paths()["include"]
    command = [*linker, "-O3", "-fPIC", "-Wall", f"-I{include}", str(source), "-o", str(built)]
    subprocess.run(command, check=True, capture_output=True, text=True)
