"""``python -m omteach setup | lab | doctor | links | hub``: the course without ``make`` (Windows
included), and the launch links of a published copy.

Only the standard library is imported up front: ``setup`` runs before any dependency exists.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from omteach.errors import HubError, RepositoryAddressError, SetupError
from omteach.links import run_links
from omteach.setup_tools import ROOT, TORCH_VERSION, run_lab, run_setup, venv_python


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="python -m omteach",
        description="Set up, start and check the omteach course.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    venv_help = "the virtual environment to use (default: .venv in the checkout)"

    setup = commands.add_parser("setup", help="create .venv, install torch (pinned) first, then "
                                "omteach, and register the 'omteach' Jupyter kernel")
    setup.add_argument("--venv", type=Path, default=ROOT / ".venv", help=venv_help)
    setup.add_argument("--dev", action="store_true", help="also install the test tools")
    setup.add_argument("--torch-version", default=TORCH_VERSION,
                       help=f"the torch release to pin (default: {TORCH_VERSION})")
    setup.add_argument("--dry-run", action="store_true", help="print the steps, run nothing")

    lab = commands.add_parser("lab", help="start JupyterLab on notebooks/")
    lab.add_argument("--venv", type=Path, default=ROOT / ".venv", help=venv_help)
    lab.add_argument("--dry-run", action="store_true", help="print the command, run nothing")

    doctor = commands.add_parser("doctor", help="pre-class check: imports, kernel, tools, and "
                                 "each chapter's first cell, timed")
    doctor.add_argument("--notebooks", type=Path, default=ROOT / "notebooks",
                        help="the folder of chapter notebooks (default: notebooks/)")
    doctor.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a chapter's first cell may take (default: 300)")
    doctor.add_argument("--here", action="store_true", help="check this Python even when the "
                        "checkout has a .venv (by default the doctor checks .venv's Python)")
    links = commands.add_parser("links", help="point the Binder badge, the Colab links and the "
                                "install line at your published copy (OWNER/NAME on GitHub)")
    links.add_argument("repository", nargs="?", help="OWNER/NAME or a GitHub address (default: "
                       "the checkout's 'origin' remote)")
    links.add_argument("--dry-run", action="store_true", help="say what would change, write "
                       "nothing")
    hub = commands.add_parser("hub", help="serve a whole class from this machine: JupyterHub, "
                              "a server per student, nbgrader's exchange, the classroom node "
                              "(as root; needs 'make setup-hub')")
    hub.add_argument("class_list", type=Path, help="CSV of the students' user names, one a row")
    hub.add_argument("--host", default="127.0.0.1", help="address the hub listens on "
                     "(0.0.0.0: every network of this machine; default loopback)")
    hub.add_argument("--port", type=int, default=8000, help="the hub's TCP port (default 8000)")
    hub.add_argument("--data", type=Path, default=Path("/srv/omteach-hub"),
                     help="where the hub keeps homes, exchange, database and passwords")
    hub.add_argument("--teacher", default="teacher", help="the teacher's user name (admin)")
    hub.add_argument("--gate-port", type=int, default=8546, help="the classroom gate's port")
    hub.add_argument("--slot", type=int, default=0, help="0-249: the classroom node's network "
                     "namespace and subnet (10.251.SLOT.0/30); another for a second hub")
    hub.add_argument("--idle-timeout", type=int, default=3600,
                     help="seconds before the idle culler stops a forgotten server")
    hub.add_argument("--memory-limit", type=int, default=2048, metavar="MIB",
                     help="memory per student (server and kernels together, MiB; 0: none), "
                          "where the machine gives the hub memory cgroups (default 2048)")
    hub.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    return parser


def _is_running(python: Path) -> bool:
    """Whether this process runs inside the virtual environment of ``python``."""
    return Path(sys.prefix).resolve() == python.parent.parent.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "setup":
            return run_setup(args.venv.absolute(), dev=args.dev,
                             torch_version=args.torch_version, dry_run=args.dry_run)
        if args.command == "lab":
            return run_lab(args.venv.absolute(), dry_run=args.dry_run)
        if args.command == "links":
            return run_links(args.repository, dry_run=args.dry_run)
        course_python = venv_python(ROOT / ".venv")
        if not args.here and course_python.exists() and not _is_running(course_python):
            # `python -m omteach doctor|hub` from any Python uses the course's own environment.
            print(f"using the course's environment: {course_python}")
            argv = [*(argv if argv is not None else sys.argv[1:]), "--here"]
            return subprocess.run([str(course_python), "-m", "omteach", *argv]).returncode
        if args.command == "hub":
            from omteach.hub.launch import run_hub  # needs the [hub] extra: only here

            return run_hub(args)
        from omteach.doctor import run_doctor  # imports jupyter_client: only after set-up

        return run_doctor(args.notebooks, timeout=args.timeout)
    except (SetupError, RepositoryAddressError, HubError) as exc:
        print(f"omteach: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
