"""`make demo` itself runs minutes and is not part of `make test`; its argument handling is checked here."""

from __future__ import annotations

import pytest

from tools import demo


@pytest.mark.parametrize(("argv", "message"), [(["--epochs", "0"], "--epochs must be at least 1"),
                                               (["--epochs", "two"], "invalid int value")])  # fmt: skip
def test_bad_arguments_are_usage_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        demo.main([*argv, "--workdir", str(tmp_path / "demo")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written
