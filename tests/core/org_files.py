"""A whole company as an org file, and how the org file tests drive the real `fieldcrm` entry."""
from pathlib import Path

from sqlalchemy import func, select

from db.models import AuditEntry, Base
from db.session import Database

COMPANY = """\
units:
  - name: 华东贸易
    timezone: Asia/Shanghai
    phone_region: CN
    visits:
      geofence_m: 300
      work_hours: 08:30-17:30
      grace_minutes: 10
      office: {latitude: 31.2304, longitude: 121.4737, radius_m: 200}
    announcements: {announce_on: collected, fanfare: [50000, 10000]}
    children:
      - name: 上海一组
        children:
          - name: 浦东
      - name: 杭州组
  - name: Berlin GmbH
    timezone: Europe/Berlin
    children:
      - {name: Vertrieb, visits: {accuracy_max_m: 100}, announcements: {}}
users:
  - {handle: wang, name: 王总, unit: 华东贸易, role: admin, locale: zh, timezone: Asia/Shanghai}
  - {handle: mei, name: 王梅, unit: 上海一组, role: manager, locale: zh, manager: wang}
  - {handle: li, name: 李雷, unit: 浦东, manager: mei}
  - {handle: zhang, name: 张伟, unit: 杭州组, scope: unit, manager: mei, nudges: {enabled: off, visit_by: 10:30}}
  - {handle: jan, name: Jan Weber, unit: Vertrieb, locale: en, timezone: Europe/Berlin}
channels:
  - platform: telegram
    chat: -1001234567890
    unit: 上海一组
    name: 上海销售群
    locale: zh
    timezone: Asia/Shanghai
    quiet_hours: 22:00-08:00
    boards:
      time: 18:30
      periods: [day, month]
      top: 5
      weekends: yes
  - platform: slack
    workspace: T0123
    chat: C0456
    unit: 华东贸易
    include_subunits: off
    boards: {weekly_on: monday, metric: won_deals, merge_seconds: 60}
pools:
  - name: 华东公海
    members:
      units: [上海一组, 杭州组]
      users: [jan]
    admins: [mei]
    rules:
      max_open_leads: 30
      daily_claim_limit: 10
      return_no_followup_days: 5
      return_no_deal_days: off
      reclaim_cooldown_days: 0
      auto_distribute: true
      levels:
        A: {return_no_followup_days: 14}
        b: {return_no_deal_created_days: 20, return_no_followup_days: off}
  - name: Berlin pool
    members: {units: [Berlin GmbH]}
holidays:
  2026-10-01: 国庆节
  2026-10-02: 国庆节
lose_reasons:
  price: 价格太高
  competitor: 选了竞争对手
"""


def write(tmp_path: Path, text: str, name: str = "org.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table, the audit log included."""
    with db.uow() as uow:
        return {table.name: uow.session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


def audit_rows(db: Database) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry))
