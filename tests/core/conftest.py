"""The org file tests run the real `fieldcrm` entry point on the test database."""
import pytest

from bot.cli import main
from db.session import Database


@pytest.fixture
def fieldcrm(db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run `fieldcrm ARGS` on the test database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.delenv("DEFAULT_LOCALE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
