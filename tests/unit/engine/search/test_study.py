"""Where a study lives, and how it is shown: never with a password."""

import pytest
from sqlalchemy.engine import make_url

from engine.search.study import StudyError, open_storage, shown_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://volt:Hunter2secret@db.example:5432/volt",
        "postgresql://volt@db.example/volt?password=Hunter2secret&sslmode=require",
        "postgresql+psycopg://volt@db.example/volt?PASSWORD=Hunter2secret",
    ],
)
def test_a_storage_is_shown_without_its_password(url):
    shown = shown_url(make_url(url))
    assert "Hunter2secret" not in shown and "db.example" in shown


def test_an_unreachable_storage_is_refused_in_one_line_without_its_password(tmp_path):
    with pytest.raises(StudyError) as refused:
        open_storage("postgresql://volt@127.0.0.1:9/volt?password=Hunter2secret", tmp_path)
    assert "cannot open it" in str(refused.value) and "Hunter2secret" not in str(refused.value)


def test_an_unsupported_storage_is_refused(tmp_path):
    with pytest.raises(StudyError, match="not supported"):
        open_storage("mysql://volt@localhost/volt", tmp_path)


def test_the_default_storage_is_a_journal_file_under_volt_home(tmp_path):
    _, shown = open_storage(None, tmp_path)
    assert shown == str(tmp_path / "studies" / "optuna.journal")
