"""Shell completion: `twitchwatch completion bash` really completes, in a real bash."""

from __future__ import annotations

import subprocess
import sys

import pytest
import shtab

from twitchwatch.gateway import cli


def _complete(words: list[str], tmp_path) -> list[str]:
    """What bash offers for the last word, with the script sourced (no Python involved)."""
    script = tmp_path / "twitchwatch.bash"
    r = subprocess.run([sys.executable, "-m", "twitchwatch", "completion", "bash"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    script.write_text(r.stdout)
    line = " ".join(words)
    prog = (f'source "{script}"; cd "{tmp_path}"; COMP_WORDS=({line}); '
            f"COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; COMP_POINT={len(line)}; "
            "_shtab_twitchwatch; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return sorted(w for w in out.stdout.split("\n") if w)


def test_hints_are_shtabs_own():
    for mine, theirs in ((cli.FILE, shtab.FILE), (cli.DIRECTORY, shtab.DIRECTORY)):
        assert mine == {k: theirs[k] for k in mine}


def test_bash_completes_commands_options_choices_and_paths(tmp_path):
    assert _complete(["twitchwatch", "an"], tmp_path) == ["analyze"]
    assert "completion" in _complete(["twitchwatch", "c"], tmp_path)
    assert _complete(["twitchwatch", "run", "--influx-r"], tmp_path) == [
        "--influx-raw", "--influx-raw-retention"]
    assert _complete(["twitchwatch", "run", "--profile", "park"], tmp_path) == ["parkinson"]
    (tmp_path / "night-1.twrec").write_bytes(b"")
    (tmp_path / "nights").mkdir()
    assert "night-1.twrec" in _complete(["twitchwatch", "replay", "nig"], tmp_path)
    assert _complete(["twitchwatch", "analyze", "x", "--out", "nig"], tmp_path) == ["nights"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_a_script(shell):
    r = subprocess.run([sys.executable, "-m", "twitchwatch", "completion", shell],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "twitchwatch" in r.stdout and "analyze" in r.stdout
