"""One start-up assembly: what bootstrap builds is what every process runs."""
import threading

from bot.bootstrap import bot_process, command_table, jobs, with_secret_key
from bot.config import load_settings
from bot.services.visits import checkin_links
from db.base import utcnow
from db.session import Database


def test_without_secret_key_every_process_signs_with_the_one_kept_in_the_database(db: Database):
    settings = load_settings(env_file=None, DATABASE_URL=db.url)
    assert settings.SECRET_KEY is None
    first = with_secret_key(settings, db)
    restarted = with_secret_key(settings, Database(db.url))
    assert first.SECRET_KEY and first.SECRET_KEY == restarted.SECRET_KEY
    token = checkin_links.issue(first.SECRET_KEY, 1, 2, utcnow())
    assert checkin_links.verify(restarted.SECRET_KEY, token, utcnow()).visit_id == 2


def test_processes_starting_together_agree_on_one_secret(pg_db: Database):
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url)
    keys: list[str | None] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        database = Database(pg_db.url)
        barrier.wait()
        keys.append(with_secret_key(settings, database).SECRET_KEY)
        database.dispose()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 6 and len(set(keys)) == 1 and keys[0]


def test_a_set_secret_key_is_used_as_is(db: Database):
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="from-the-environment")
    assert with_secret_key(settings, db).SECRET_KEY == "from-the-environment"


def test_the_process_is_assembled_once_with_every_command_and_job(db: Database, tmp_path):
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="k")
    with open(tmp_path / "out.txt", "w") as out:
        process = bot_process(settings, console_out=out)
    try:
        assert process.router.commands.lookup("visit") is not None
        assert {job.name for job in jobs()} == set(process.scheduler.jobs)
        assert process.dispatcher.metrics is process.router.metrics is process.metrics
        assert [c.name for c in command_table().all()] == [c.name for c in process.router.commands.all()]
    finally:
        process.dispose()


def test_every_declared_command_and_job_is_assembled():
    """A handler or job module left out of bootstrap's lists would silently drop its commands."""
    import importlib
    import pkgutil

    import bot.handlers
    import bot.jobs
    from bot.handlers.registry import CommandTable
    from bot.scheduler import collect_jobs

    def every_module(package):
        return [importlib.import_module(m.name)
                for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")]

    declared = {c.name for c in CommandTable.collect(every_module(bot.handlers)).all()}
    assert declared == {c.name for c in command_table().all()}
    assert {j.name for j in collect_jobs(every_module(bot.jobs))} == {j.name for j in jobs()}
