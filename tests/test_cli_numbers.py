"""Numeric command-line flags: an argparse error naming the flag, the value and the range.

Before (issue 11): ``--speed 0``, ``--hours -1`` and the like were accepted and ended in
tracebacks.
"""

from __future__ import annotations

import pytest

from twitchwatch.gateway.cli import main

CASES = [
    (["run", "--speed", "0"], "argument --speed: 0 is out of range: must be above 0"),
    (["run", "--hours", "-1"], "argument --hours: -1 is out of range: must be above 0 and "
                               "at most 24"),
    (["run", "--hours", "nan"], "argument --hours: 'nan' is not a finite number"),
    (["run", "--hours", "1e9"], "argument --hours: 1e9 is out of range"),
    (["run", "--seed", "-3"], "argument --seed: -3 is out of range: must be at least 0"),
    (["run", "--frame-loss", "1"], "argument --frame-loss: 1 is out of range: must be at "
                                   "least 0 and below 1"),
    (["run", "--speed", "fast"], "argument --speed: 'fast' is not a number"),
    (["replay", "x.twrec", "--speed", "-2"], "argument --speed: -2 is out of range"),
    (["scan", "--timeout", "0"], "argument --timeout: 0 is out of range"),
]


@pytest.mark.parametrize(("argv", "message"), CASES)
def test_a_bad_number_is_an_argparse_error_naming_flag_value_and_range(argv, message,
                                                                       capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert message in err, err
    assert "Traceback" not in err
