"""The `keras-preact` command line (keras_preact/cli.py): every subcommand registered, every
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
