import subprocess
import sys

from aksmcp_tui import __version__
from aksmcp_tui.cli import main


def test_version_flag_prints_the_package_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_runs_in_a_fresh_interpreter_without_heavy_imports():
    probe = (
        "import sys; from aksmcp_tui.cli import build_parser; build_parser().format_help();"
        "heavy = [m for m in ('textual', 'kubernetes', 'aiohttp', 'mcp', 'docker', 'azure') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
