"""The CLI turns user errors into one `error:` line and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from specinpaint.app import cli
from specinpaint.core import ConfigError


def run_with(monkeypatch, capsys, exc: Exception) -> tuple[int, str]:
    def boom(args):
        raise exc

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    args = parser.parse_args(["info"])
    monkeypatch.setattr(parser, "parse_known_args", lambda argv=None: (args, []))
    args.func = boom
    code = cli.main([])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConfigError("x.yaml: quantizer.name: unknown"), "error: x.yaml: quantizer.name: unknown"),
        (PermissionError(13, "Permission denied", "/root/out.wav"), "error: /root/out.wav: Permission denied"),
        (FileNotFoundError(2, "No such file or directory", "/proc/x/o.wav"),
         "error: /proc/x/o.wav: No such file or directory"),
    ],
)
def test_user_errors_are_one_line(monkeypatch, capsys, exc, expected):
    code, err = run_with(monkeypatch, capsys, exc)
    assert code == 2
    assert err.strip() == expected


def test_unexpected_errors_still_raise(monkeypatch, capsys):
    with pytest.raises(ZeroDivisionError):
        run_with(monkeypatch, capsys, ZeroDivisionError("bug"))


def test_unwritable_output_from_a_real_command(tmp_path, capsys):
    code = cli.main(["data", "render", "--tiny", "--out", "/proc/no-such-dir/out"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
