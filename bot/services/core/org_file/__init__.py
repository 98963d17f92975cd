"""The org file: a whole company in one YAML file (units, users, team channels with their settings,
pools with members, admins and rules), checked key by key and loaded in one unit of work
(`load`), and the database written back as the same file (`dump`)."""
from bot.services.core.org_file.dump import dump_org
from bot.services.core.org_file.load import OrgLoadResult, load_org, load_org_text

__all__ = ["OrgLoadResult", "dump_org", "load_org", "load_org_text"]
