"""The `keras-preact` command line (keras_preact/cli/__init__.py): every subcommand registered, every
flag documented in --help."""

import argparse

import pytest

from keras_preact import cli


def _subparsers():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_command_is_registered():
    assert set(_subparsers()) == {"list", *cli.COMMANDS}


@pytest.mark.parametrize("command", ["list", *cli.COMMANDS])
def test_every_flag_has_help(command):
    parser = _subparsers()[command]
    undocumented = [a.option_strings[0] if a.option_strings else a.dest
                    for a in parser._actions
                    if not isinstance(a, argparse._HelpAction) and not a.help]
    assert undocumented == [], f"{command}: flags without help text: {undocumented}"


def test_help_needs_no_backend():
    """`--help` of every command answers without importing Keras, a backend or numpy."""
    import subprocess
    import sys

    code = ("import sys\nfrom keras_preact import cli\n"
            "for argv in ([], *([c] for c in ('list', *cli.COMMANDS))):\n"
            "    try:\n        cli.main([*argv, '--help'])\n    except SystemExit as e:\n"
            "        assert e.code == 0, argv\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'numpy') "
            "if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert "usage: keras-preact publish" in done.stdout
