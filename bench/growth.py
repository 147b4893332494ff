"""Flat with the data: the hot queries on an empty database and on one holding years of proposals.

In one run, for each database kind asked for (``--db``):

1. makes throwaway databases of its own for engine, intake, supervision and assignment (PostgreSQL:
   ``ztc_growth_<random>_<service>``, dropped at the end; SQLite: files in a temporary directory),
   migrated to head as in production, and a small **probe**: through the services' own code
   ``smoke.bpmn`` deployed and a first page of the year's report of proposals of this year (100,
   and a reworded copy of one of them); a few live reply deadlines and a first page (50) of
   overdue ones, a first page of open tasks for each task list measured (50 staff tasks, 50
   for the unit handler), the units' directory and a first page (50) of the transport unit's
   assignments, and 300 opinion items of this year (a first page of each opinion list, the
   leaders' awaiting ones too). Every listing measured thus builds as many rows empty as loaded, and
   the ratio measures what the data costs, not a longer answer;
2. **measures, empty**: one engine step (``smoke.bpmn`` lifecycles as ``bench/engine.py`` drives
   them), the task list of a staff user and of a unit handler, the overdue board, the
   near-duplicate search for the probe's copy (rolled back), the year's report (intake's
   ``year_figures`` for the bulletin to members, this year), and the first page of the
   assignments list (``GET /api/assignments``) of the transport unit's handler and of staff, of
   the proposals list (``GET /api/proposals``) of staff and of a member's own (one with none), and
   of the opinion items list (``GET /api/opinions``) of staff, of a member's own (one with none)
   and of a leader's items awaiting an instruction;
3. **loads** ``--opinions`` opinion items over those years and this one (``load_opinions``), then
   ``--proposals`` finished proposals spread over the ``--years`` years before this one
   and ``--open`` open ones of this year, with what the hot queries read: engine instances, their
   history and work items (open ones for the open proposals: staff's pre-review and assignment,
   a unit's reply, a proposer's rating), filing and publication events, publications, co-signers,
   each filed proposal's assignment to its unit and, once replied, the reply, deadlines (closed ones, live ones, about one in seven overdue) and escalations. Straight into
   the tables with bulk Core inserts, in chunks, with progress; then ``ANALYZE``, as autovacuum
   (PostgreSQL) or ``ztc`` maintenance would;
4. **measures, loaded**, the same calls, and prints empty vs loaded and their ratio (target 1.5×)
   beside the baselines of ``bench/engine.py`` (bare SpiffWorkflow per step, in memory and with the
   JSON round trip);
5. with ``--explain``, prints the plan of every SELECT each measured call ran on the loaded
   database: PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``, SQLite ``EXPLAIN QUERY PLAN``.

Instances' workflow state is a placeholder (``{}``) in the loaded rows: none of the measured
calls reads another instance's state, and a real state (tens of kilobytes each) would only make the
load longer. Times are wall milliseconds (median of ``--repeat``) and this process's CPU; the
database server's CPU is not in the CPU column.

Run from the repository root:  .venv/bin/python bench/growth.py --help
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine as engine_bench  # noqa: E402 - bench/engine.py, beside this file

from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from services.engine.models import History, Instance, ProcessVersion, WorkItem  # noqa: E402
from services.assignment import operations as assignment_ops, queries as assignment_queries  # noqa: E402
from services.assignment import routing as assignment_routing  # noqa: E402
from services.assignment.models import Assignment  # noqa: E402
from services.assignment.rules import RulebookRules as AssignmentRules  # noqa: E402
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork  # noqa: E402
from services.intake.rules import RulebookRules  # noqa: E402
from services.intake.unit_of_work import SqlIntakeUnitOfWork  # noqa: E402
from services.intake import operations as intake_ops  # noqa: E402
from services.intake import opinions as intake_opinions  # noqa: E402
from services.intake import proposals as intake_proposals  # noqa: E402
from services.intake.models import (  # noqa: E402
    Cosigner,
    Proposal,
    ProposalCounter,
    ProposalEvent,
    ProposalTitleGram,
    Publication,
    title_gram_rows,
)
from services.intake.reports import year_figures  # noqa: E402
from services.intake.similarity import bigrams, match_text  # noqa: E402
from services.supervision import queries as supervision_queries  # noqa: E402
from services.supervision.unit_of_work import SqlSupervisionUnitOfWork  # noqa: E402
from services.supervision.models import Deadline, Escalation  # noqa: E402
from shared import clock, db  # noqa: E402
from shared.workflow.parser import parse_paths  # noqa: E402
from shared.workflow.runtime import WorkflowRuntime  # noqa: E402

SERVICES = ("engine", "intake", "supervision", "assignment")
STAFF = {"user": "staff.zhao", "roles": ["staff"]}
HANDLER = {"user": "handler.chen", "roles": ["unit"], "unit": "transport"}
LEADER = {"user": "leader.wu", "roles": ["leader"]}
CHUNK = 5000
TARGET = 1.5
PAGE = 50  # the first page of the task list and of the overdue board, which the probe fills
PROBE_OPINIONS = 300  # opinion items of this year in the probe: a first page of each list, the leaders' too
ROUTING_RULES = AssignmentRules().routing()
REPORT_PAGE = 100  # the first page of the year's report, which the probe's proposals fill
# A city committee's year (--year): 600-900 proposals, most of them finished by the year's end.
YEAR_FINISHED, YEAR_OPEN = 660, 140

UNITS = [
    "transport",
    "education",
    "health",
    "housing",
    "ecology",
    "civil_affairs",
    "human_resources",
    "finance",
    "natural_resources",
    "agriculture",
    "commerce",
    "culture_tourism",
    "market_regulation",
    "public_security",
    "water",
    "urban_management",
    "emergency",
]
UNIT_NAMES = {
    "transport": "市交通运输局",
    "education": "市教育局",
    "health": "市卫生健康委员会",
    "housing": "市住房和城乡建设局",
    "ecology": "市生态环境局",
    "civil_affairs": "市民政局",
    "human_resources": "市人力资源和社会保障局",
    "finance": "市财政局",
    "natural_resources": "市自然资源和规划局",
    "agriculture": "市农业农村局",
    "commerce": "市商务局",
    "culture_tourism": "市文化广电旅游局",
    "market_regulation": "市市场监督管理局",
    "public_security": "市公安局",
    "water": "市水利局",
    "urban_management": "市城市管理局",
    "emergency": "市应急管理局",
}
PLACES = [
    "老城区",
    "高新区",
    "滨江新区",
    "北部山区",
    "东湖街道",
    "西城片区",
    "南郊镇",
    "经济开发区",
    "城东街道",
    "临港新城",
    "大学城",
    "古镇片区",
    "工业园区",
    "城南新区",
    "湖滨街道",
    "北站片区",
    "西山镇",
    "河西街道",
]
MATTERS = [
    ("公交候车亭改造", "增设夜间照明和实时到站信息屏", "transport"),
    ("普惠性幼儿园学位供给", "督促开发商按期移交配套园并给予生均补助", "education"),
    ("老旧小区加装电梯", "简化审批流程并设立专项补贴资金", "housing"),
    ("农村生活污水治理", "统筹建设污水管网和分散式处理设施", "ecology"),
    ("社区居家养老服务", "推行助餐助浴上门服务并培训护理人员", "civil_affairs"),
    ("中小学课后服务", "引入体育艺术社团并保障教师课时补贴", "education"),
    ("停车难问题治理", "挖掘错时共享车位并建设立体停车库", "urban_management"),
    ("夜间经济发展", "延长公共交通运营时间并规范摊点管理", "commerce"),
    ("基层医疗服务能力", "推动专家下沉坐诊并完善远程会诊网络", "health"),
    ("高校毕业生就业", "扩大见习岗位并落实创业担保贷款", "human_resources"),
    ("非遗保护传承", "建设非遗工坊并开展进校园活动", "culture_tourism"),
    ("食品安全监管", "推广明厨亮灶并加强校园周边抽检", "market_regulation"),
    ("电动自行车安全管理", "建设集中充电设施并严查违规改装", "public_security"),
    ("城市内涝防治", "改造排水管网并建设调蓄设施", "water"),
    ("高标准农田建设", "统筹整合涉农资金并完善管护机制", "agriculture"),
    ("应急避难场所建设", "按人口规模布局场所并定期组织演练", "emergency"),
    ("耕地保护与国土空间规划", "严守耕地红线并推进全域土地综合整治", "natural_resources"),
    ("政府债务风险防范", "健全债务限额管理并加强绩效评价", "finance"),
]
VERBS = ["加快", "推进", "进一步做好", "加强", "完善", "统筹推进", "着力解决", "优化", "切实抓好", "全面提升"]
# A suggestion's points: a verb and an object, drawn apart (24 × 40 phrases), so that proposals on
# one matter share its words but not their whole text, as proposals written by different members do.
POINT_VERBS = [
    "加快",
    "健全",
    "落实",
    "探索",
    "推动",
    "强化",
    "规范",
    "加大",
    "优化",
    "提升",
    "完善",
    "拓展",
    "深化",
    "创新",
    "统筹",
    "严格",
    "鼓励",
    "支持",
    "保障",
    "简化",
    "整合",
    "细化",
    "压实",
    "扩大",
]
POINT_OBJECTS = [
    "部门协同配合机制",
    "考核评价办法",
    "社会资本参与渠道",
    "群众满意度调查",
    "长效维护机制",
    "年度民生实事清单",
    "财政投入力度",
    "试点经验推广",
    "信息化平台建设",
    "责任分工和时间表",
    "专业人才队伍",
    "群众意见反映渠道",
    "属地管理责任",
    "志愿服务力量",
    "资金使用监管",
    "标准规范体系",
    "数据共享机制",
    "督查通报制度",
    "宣传引导工作",
    "应急处置预案",
    "用地保障政策",
    "审批服务流程",
    "第三方评估机制",
    "社区网格管理",
    "公益岗位开发",
    "财政奖补政策",
    "信用监管手段",
    "村企结对帮扶",
    "跨区域合作机制",
    "联席会议制度",
    "项目储备库",
    "绩效目标管理",
    "示范点创建",
    "执法检查力度",
    "技术服务支撑",
    "专项债券使用",
    "惠企政策兑现",
    "培训教育体系",
    "设施运营管护",
    "群众参与机制",
]
FACTS = ["群众反映强烈", "历史欠账较多", "资金缺口较大", "管理主体不明确", "设施老化严重", "供需矛盾突出"]


# -- the corpus ---------------------------------------------------------------------------------


def proposal_text(rng: random.Random) -> tuple[dict, str]:
    """A proposal's title and texts on a random matter in a random place, and its answering unit."""
    matter, action, unit = rng.choice(MATTERS)
    place, verb = rng.choice(PLACES), rng.choice(VERBS)
    details = [rng.choice(POINT_VERBS) + rng.choice(POINT_OBJECTS) for _ in range(3)]
    return (
        {
            "title": f"关于{verb}{place}{matter}的建议",
            "situation": f"{place}{matter}工作{rng.choice(FACTS)}，近{rng.randint(2, 9)}年来"
            f"涉及约{rng.randint(2, 90)}个小区、{rng.randint(1, 40)}万群众。",
            "analysis": f"{rng.choice(FACTS)}；{rng.choice(FACTS)}。",
            "suggestions": f"一、由{UNIT_NAMES[unit]}牵头{action}；二、{details[0]}；三、{details[1]}；四、{details[2]}。",
        },
        unit,
    )


# -- databases ----------------------------------------------------------------------------------


@contextlib.contextmanager
def databases(kind: str, postgres_url: str, keep: bool):
    """Throwaway databases of engine, intake, supervision and assignment: yields {service: url}."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ztc-growth-") as tmp:
            urls = {s: f"sqlite:///{tmp}/{s}.db" for s in SERVICES}
            for service, url in urls.items():
                db.migrate(service, url)
            yield urls
            db.dispose_all()
        return
    from sqlalchemy import create_engine

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    prefix = f"ztc_growth_{uuid.uuid4().hex[:8]}"
    urls = {
        s: make_url(postgres_url).set(database=f"{prefix}_{s}").render_as_string(hide_password=False) for s in SERVICES
    }
    try:
        for service, url in urls.items():
            db.migrate(service, url)  # creates the database first
        yield urls
    finally:
        db.dispose_all()
        if keep:
            print(f"kept the databases {prefix}_*", file=sys.stderr)
        else:
            with admin.connect() as conn:
                for service in SERVICES:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)'))
        admin.dispose()


def sessions(url: str):
    return db.session_factory(url)


# -- the probe: the same small set in both states, made through the services' code ---------------


def make_probe(urls: dict, year: int, rng: random.Random) -> dict:
    engine = engine_bench.make_engine(urls["engine"], 1000)
    directory = lambda users: []  # noqa: E731 - everyone is a member
    with db.transaction(sessions(urls["intake"])) as s:
        made = []
        for i in range(REPORT_PAGE):  # a first page of the year's report, listed empty as loaded
            text_, _ = proposal_text(rng)
            made.append(
                intake_ops.submit(
                    SqlIntakeUnitOfWork(s),
                    RulebookRules(),
                    {"kind": "between_sessions", "publish_consent": True, **text_},
                    {"user": f"member.{i}", "roles": ["member"]},
                    directory=directory,
                )
            )
        original = s.get(Proposal, made[3]["id"])
        copy = {
            "title": original.title.replace("的建议", "的提案"),
            "situation": original.situation,
            "analysis": original.analysis,
            "suggestions": original.suggestions.replace("；三、", "；三是"),
        }
        copy = intake_ops.submit(
            SqlIntakeUnitOfWork(s),
            RulebookRules(),
            {"kind": "between_sessions", "publish_consent": True, **copy},
            {"user": "member.99", "roles": ["member"]},
            directory=directory,
        )
    today = clock.now().date()
    with db.transaction(sessions(urls["supervision"])) as s:
        s.execute(
            insert(Deadline),
            [
                deadline_row(
                    f"{year}-{i + 1:04d}",
                    "transport",
                    today - timedelta(days=60),
                    today + timedelta(days=(i - 3) * 7),
                    live=True,
                )
                for i in range(6)
            ]
            + [  # a first page of overdue ones, so the board lists as many rows empty as loaded
                deadline_row(f"{year}-{i + 1:04d}", UNITS[i % len(UNITS)], today - timedelta(days=90), due, live=True)
                for i in range(6, 6 + PAGE)
                for due in [today - timedelta(days=1 + i % 30)]
            ],
        )
    # A first page of open tasks for each listing measured (the staff's, the unit handler's), so
    # the task lists build as many rows empty as loaded: what grows is then what the data costs.
    with db.transaction(sessions(urls["engine"])) as s:
        version_id = s.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == "smoke"))
        created = datetime.combine(today, datetime.min.time(), timezone.utc) - timedelta(days=3)
        items = []
        for i in range(2 * PAGE):
            instance_id, number = str(uuid.uuid4()), f"{year}-{9000 + i:04d}"
            task, role, unit = ("pre_review", "staff", None) if i < PAGE else ("reply", "unit", "transport")
            s.execute(insert(Instance), [instance_row(instance_id, version_id, number, [task], created)])
            items.append(work_item(instance_id, number, task, role, unit, None, "open", created + timedelta(minutes=i)))
        s.execute(insert(WorkItem), items)
    # The units' directory, and a first page of the transport unit's assignments (GET
    # /api/assignments, newest first), so its list and the staff's build as many rows empty as loaded.
    with db.transaction(sessions(urls["assignment"])) as s:
        assignment_ops.ensure_units(SqlAssignmentUnitOfWork(s), {code: UNIT_NAMES.get(code, code) for code in UNITS})
        s.flush()
        s.execute(
            insert(Assignment),
            [
                {
                    "number": f"{year}-{9000 + i:04d}",
                    "proposal_id": 900_000 + i,
                    "round": 1,
                    "unit": "transport",
                    "role": "single",
                    "status": "signed",
                    "assigned_by": "staff.bench",
                    "created_at": created,
                }
                for i in range(PAGE)
            ],
        )
    # Opinion items (社情民意) of this year, enough that each opinion list measured has a first
    # page empty as loaded: staff's, and the leaders' (about a quarter await an instruction).
    load_opinions(urls["intake"], year, PROBE_OPINIONS, rng.randint(0, 10**6), True)
    # A page of the staff's task list to route (GET /api/routing-suggestions): ten new proposals.
    routed = [{"number": p["number"], "title": p["title"], "text": p["suggestions"]} for p in made[:10]]
    return {"engine": engine, "copy_id": copy["id"], "original": made[3]["number"], "routed": routed}


def deadline_row(number: str, unit: str, start: date, due: date, live: bool, rule="reply_deadline") -> dict:
    started = datetime.combine(start, datetime.min.time(), timezone.utc)
    return {
        "number": number,
        "rule": rule,
        "unit": unit,
        "units": [unit],
        "start_event": "assigned",
        "started_at": started,
        "start_date": start,
        "rulebook": "proposal",
        "rulebook_version": "bench",
        "rulebook_hash": "bench",
        "amount": 3,
        "amount_unit": "months",
        "original_due": due,
        "due": due,
        "calendar": {"provisional": False, "skipped": [], "makeup_workdays": []},
        "status": "open" if live else "fulfilled",
        "replaces_id": None,
        "opened_by": "supervision",
        "created_at": started,
        "closed_at": None if live else started + timedelta(days=50),
        "fulfilled_at": None if live else started + timedelta(days=50),
        "fulfilled_by": None if live else unit,
    }


# -- the load -----------------------------------------------------------------------------------

OPEN_STAGES = [  # (proposal status, share, the open work item: (task, role, for a unit?, for the proposer?))
    ("submitted", 0.05, ("pre_review", "staff", False, False)),
    ("pre_review", 0.10, ("filing", "committee", False, False)),
    ("filed", 0.10, ("assign", "staff", False, False)),
    ("assigned", 0.45, ("reply", "unit", True, False)),
    ("replied", 0.15, ("accept_reply", "staff", False, False)),
    ("rating", 0.15, ("rate", "member", False, True)),
]


class Loader:
    """Bulk Core inserts, CHUNK rows at a time, with progress on stderr."""

    def __init__(self, urls: dict, quiet: bool):
        self.engines = {s: db.get_engine(u) for s, u in urls.items()}
        self.buffers: dict = {}
        self.counts: dict = {}
        self.quiet = quiet

    def add(self, service: str, table, row: dict) -> None:
        rows = self.buffers.setdefault((service, table), [])
        rows.append(row)
        if len(rows) >= CHUNK:
            self.flush_all()  # every table, parents (first added) first: no row before its parent

    def flush(self, service: str, table) -> None:
        rows = self.buffers.get((service, table))
        if rows:
            with self.engines[service].begin() as conn:
                conn.execute(insert(table), rows)
            self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
            rows.clear()

    def flush_all(self) -> None:
        for service, table in list(self.buffers):
            self.flush(service, table)


def load(
    urls: dict,
    probe: dict | None,
    year: int,
    finished: int,
    open_: int,
    years: int,
    seed: int,
    quiet: bool,
    this_year: bool = False,
    member: str | None = None,
) -> dict:
    """Bulk-load the proposals (see the module's docstring). ``this_year``: the finished ones are of
    this year too, filed before today (a year of data, as ``--year`` and ``bench/console.py`` load);
    ``member``: every 60th proposal is that member's, so their own list holds a year's share.
    With an ``assignment`` URL in ``urls``, each filed proposal also gets its unit's assignment
    and, once replied, the reply (what a unit's inbox and a proposal's page read)."""
    rng = random.Random(seed)
    loader = Loader(urls, quiet)
    assignments = "assignment" in urls
    if assignments:
        from services.assignment.models import Assignment, Reply

        A, R = Assignment.__table__, Reply.__table__
        with db.transaction(sessions(urls["assignment"])) as s:
            next_assignment = (s.scalar(select(func.max(Assignment.id))) or 0) + 1
    with db.transaction(sessions(urls["engine"])) as s:
        version_id = s.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == "smoke"))
    with db.transaction(sessions(urls["intake"])) as s:
        next_id = (s.scalar(select(func.max(Proposal.id))) or 0) + 1
        probe_sequences = s.scalar(select(func.max(Proposal.sequence)).where(Proposal.year == year)) or 0
    today = clock.now().date()
    sequences = {y: 0 for y in range(year - years, year)}
    sequences[year] = probe_sequences
    started_at, total = time.monotonic(), finished + open_
    P, E, PUB, C = Proposal.__table__, ProposalEvent.__table__, Publication.__table__, Cosigner.__table__
    TG = ProposalTitleGram.__table__
    I, H, W = Instance.__table__, History.__table__, WorkItem.__table__
    D, X = Deadline.__table__, Escalation.__table__
    for n in range(total):
        is_open = n >= finished
        y = year if is_open or this_year else year - years + (n * years // max(finished, 1))
        sequences[y] += 1
        number = f"{y}-{sequences[y]:04d}"
        text_, unit = proposal_text(rng)
        initiator = f"member.{rng.randint(1, 600)}"
        if member and n % 60 == 0:
            initiator = member
        created = datetime(y, 1, 10, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 60 * 24 * 300))
        if this_year and not is_open:  # filed this year, finished by today
            days = max(31, (today - date(y, 1, 10)).days)
            created = datetime.combine(today, datetime.min.time(), timezone.utc) - timedelta(
                minutes=rng.randint(60 * 24 * 30, 60 * 24 * days)
            )
        if is_open:
            created = datetime.combine(today, datetime.min.time(), timezone.utc) - timedelta(
                minutes=rng.randint(60, 60 * 24 * 200)
            )
            roll, acc = rng.random(), 0.0
            for status, share, item in OPEN_STAGES:  # noqa: B007 (the chosen stage is read after the loop)
                acc += share
                if roll <= acc:
                    break
            decision = "filed" if status not in ("submitted", "pre_review") else None
        else:
            roll = rng.random()
            status = "published" if roll < 0.85 else "not_filed" if roll < 0.95 else "merged"
            decision = {"published": "filed"}.get(status, status)
        pid = next_id + n
        category = rng.choice("ABC") if status == "published" else None  # its answer, as publish records it
        loader.add(
            "intake",
            P,
            {
                "id": pid,
                "number": number,
                "thread": None,
                "year": y,
                "sequence": sequences[y],
                "kind": rng.choice(["plenary", "between_sessions"]),
                **text_,
                "initiator": initiator,
                "sector": None,
                "publish_consent": True,
                "no_publish_reason": None,
                "publish_name": False,
                "status": status,
                "revision": 1,
                "cosign_due": None,
                "decision": decision,
                "reason_code": "no_concrete_suggestion" if status == "not_filed" else None,
                "reason_text": None,
                "converted_kind": None,
                "converted_reference": None,
                "merged_into": f"{y}-0001" if status == "merged" else None,
                "decided_by": "committee.he" if decision else None,
                "decided_at": created if decision else None,
                "created_at": created,
                "client_reference": None,
                "match_text": match_text(text_["title"], text_["suggestions"]),
                "bigram_count": len(bigrams(text_["title"], text_["suggestions"])),
                "reply_category": category,
                "lead_unit": unit if category else None,
            },
        )
        for row in title_gram_rows(pid, text_["title"]):  # the title index, as the ORM hook writes it
            loader.add("intake", TG, row)
        if rng.random() < 0.3:
            loader.add(
                "intake",
                C,
                {
                    "proposal_id": pid,
                    "user": f"member.{rng.randint(601, 900)}",
                    "order": 1,
                    "status": "confirmed",
                    "confirmed_at": created,
                },
            )
        actions = ["submitted", "pre_review_opened"] + (["filed"] if decision == "filed" else [])
        actions += ["not_filed"] if status == "not_filed" else []
        actions += ["published"] if status == "published" else []
        for k, action in enumerate(actions):
            data = {"reply_category": category, "units": [unit]} if action == "published" else None
            loader.add(
                "intake",
                E,
                {
                    "proposal_id": pid,
                    "at": created + timedelta(days=k * 9),
                    "actor": "bench",
                    "action": action,
                    "data": data,
                },
            )
        if status == "published":
            loader.add(
                "intake",
                PUB,
                {
                    "proposal_id": pid,
                    "number": number,
                    "kind": "between_sessions",
                    "title": text_["title"],
                    "situation": text_["situation"],
                    "analysis": text_["analysis"],
                    "suggestions": text_["suggestions"],
                    "proposers": ["m***"],
                    "units": [unit],
                    "reply_category": "A",
                    "reply_summary": "已采纳，正在落实。",
                    "published_at": created + timedelta(days=90),
                },
            )
        instance_id = str(uuid.uuid4())
        loader.add("engine", I, instance_row(instance_id, version_id, number, [item[0]] if is_open else [], created))
        for k, action in enumerate(("started", "job_completed", "task_completed", "job_completed")):
            loader.add(
                "engine",
                H,
                {
                    "instance_id": instance_id,
                    "at": created + timedelta(days=k),
                    "actor": "bench",
                    "action": action,
                    "task": None,
                    "data": None,
                },
            )
        done_tasks = [("pre_review", "staff", None), ("filing", "committee", None), ("reply", "unit", unit)]
        for task, role, task_unit in done_tasks if not is_open else done_tasks[:1]:
            loader.add("engine", W, work_item(instance_id, number, task, role, task_unit, None, "completed", created))
        if is_open:
            task, role, for_unit, for_proposer = item
            loader.add(
                "engine",
                W,
                work_item(
                    instance_id,
                    number,
                    task,
                    role,
                    unit if for_unit else None,
                    initiator if for_proposer else None,
                    "open",
                    created,
                ),
            )
        if assignments and decision == "filed" and status != "filed":
            replied = status not in ("assigned",)
            loader.add(
                "assignment",
                A,
                {
                    "id": next_assignment,
                    "number": number,
                    "proposal_id": pid,
                    "round": 1,
                    "unit": unit,
                    "role": "single",
                    "status": "replied" if replied else rng.choice(["assigned", "signed"]),
                    "assigned_by": "staff.bench",
                    "created_at": created + timedelta(days=20),
                    "signed_at": created + timedelta(days=22) if replied else None,
                    "signed_by": f"handler.{unit}" if replied else None,
                    "objection_reason": None,
                    "objected_at": None,
                    "cancelled_at": None,
                },
            )
            if replied:
                loader.add(
                    "assignment",
                    R,
                    {
                        "assignment_id": next_assignment,
                        "round": 1,
                        "category": rng.choice("ABC"),
                        "text": "已采纳，正在落实。",
                        "status": "submitted",
                        "revision": 1,
                        "drafted_at": created + timedelta(days=60),
                        "drafted_by": f"handler.{unit}",
                        "submitted_at": created + timedelta(days=61),
                        "submitted_by": f"handler.{unit}",
                        "sent_back_at": None,
                        "sent_back_comment": None,
                        "milestones": None,
                    },
                )
            next_assignment += 1
        if decision == "filed":
            start = created.date() + timedelta(days=20)
            live = is_open and status in ("filed", "assigned")
            due = (
                today - timedelta(days=rng.randint(1, 40))
                if live and rng.random() < 0.15
                else today + timedelta(days=rng.randint(5, 90))
                if live
                else start + timedelta(days=90)
            )
            loader.add("supervision", D, deadline_row(number, unit, start, due, live))
            loader.add(
                "supervision",
                D,
                deadline_row(number, unit, start, start + timedelta(days=7), False, rule="sign_for_limit"),
            )
        if not quiet and (n + 1) % 10000 == 0:
            rate = (n + 1) / (time.monotonic() - started_at)
            print(f"  loaded {n + 1:>7}/{total} proposals ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    loader.flush_all()
    with db.transaction(sessions(urls["intake"])) as s:
        s.execute(update(ProposalCounter).where(ProposalCounter.year == year).values(last=sequences[year]))
    with db.get_engine(urls["supervision"]).begin() as conn:  # escalations of half the overdue ones
        overdue = conn.execute(select(D.c.id, D.c.unit, D.c.due).where(D.c.closed_at.is_(None), D.c.due < today)).all()
        rows = [
            {
                "deadline_id": i,
                "number": None,
                "unit": u,
                "due": due,
                "escalated_at": datetime.combine(due + timedelta(days=1), datetime.min.time(), timezone.utc),
            }
            for k, (i, u, due) in enumerate(overdue)
            if k % 2 == 0
        ]
        if rows:
            conn.execute(insert(X), rows)
        loader.counts["escalations"] = len(rows)
    for service, url in urls.items():
        eng = db.get_engine(url)
        with eng.begin() as conn:
            if eng.dialect.name == "postgresql" and service == "intake":
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('proposals', 'id'), (SELECT max(id) FROM proposals))")
                )
            if eng.dialect.name == "postgresql" and service == "assignment":
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('assignments', 'id'), "
                        "(SELECT coalesce(max(id), 1) FROM assignments))"
                    )
                )
        if eng.dialect.name == "postgresql":
            with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with eng.begin() as conn:
                conn.execute(text("ANALYZE"))
    loader.counts["seconds"] = round(time.monotonic() - started_at, 1)
    return loader.counts


# A year's opinion items (社情民意) by status: (status, share) — most reported, a fifth adopted.
OPINION_STAGES = [
    ("submitted", 0.08),
    ("not_adopted", 0.10),
    ("reviewed", 0.05),
    ("signed_off", 0.05),
    ("sent", 0.32),
    ("adopted", 0.22),
    ("forwarded", 0.10),
    ("handled", 0.08),
]
CHANNELS = ("city_party_committee", "city_government", "provincial_committee", "national_committee")


def load_opinions(url: str, year: int, count: int, seed: int, quiet: bool) -> dict:
    """``count`` opinion items of ``year`` into intake's tables at ``url``, as the year's editing
    leaves them: the four checks of every reviewed one, the reports of those sent (in two issues a
    month per channel), adoptions, and leaders' instructions on two in five adopted reports."""
    from services.intake.models import (
        OpinionCheck,
        OpinionCounter,
        OpinionInstruction,
        OpinionIssue,
        OpinionItem,
        OpinionReport,
    )

    rng = random.Random(seed)
    loader = Loader({"intake": url}, quiet)
    eng = db.get_engine(url)
    with eng.connect() as conn:
        next_item = (conn.scalar(select(func.max(OpinionItem.id))) or 0) + 1
        next_issue = (conn.scalar(select(func.max(OpinionIssue.id))) or 0) + 1
        first = (conn.scalar(select(func.max(OpinionItem.sequence)).where(OpinionItem.year == year)) or 0) + 1
    today = clock.now().date()
    start = datetime(year, 1, 5, tzinfo=timezone.utc)
    span = max(1, (datetime.combine(today, datetime.min.time(), timezone.utc) - start).days - 7)
    issues: dict[str, list[int]] = {}
    for channel in CHANNELS:
        issues[channel] = []
        last = (
            conn_scalar(eng, select(func.max(OpinionIssue.sequence)).where(OpinionIssue.channel == channel)) or 0
        ) + 1
        for k in range(24):
            loader.add(
                "intake",
                OpinionIssue.__table__,
                {
                    "id": next_issue,
                    "channel": channel,
                    "year": year,
                    "sequence": last + k,
                    "number": f"{channel}-{year}-{last + k:03d}",
                    "created_at": start + timedelta(days=k * span // 24),
                },
            )
            issues[channel].append(next_issue)
            next_issue += 1
    statuses = [status for status, _ in OPINION_STAGES]
    reported = {"sent", "adopted", "forwarded", "handled"}
    for n in range(count):
        status = rng.choices(statuses, [share for _, share in OPINION_STAGES])[0]
        text_, _ = proposal_text(rng)
        created = start + timedelta(minutes=rng.randint(0, span * 24 * 60))
        number = f"SQ-{year}-{first + n:04d}"
        role = "member" if rng.random() < 0.4 else "informant"
        item_id = next_item + n
        loader.add(
            "intake",
            OpinionItem.__table__,
            {
                "id": item_id,
                "number": number,
                "thread": number,
                "year": year,
                "sequence": first + n,
                "title": text_["title"].replace("的建议", "的情况反映"),
                "situation": text_["situation"],
                "analysis": text_["analysis"],
                "suggestion": text_["suggestions"],
                "urgent": rng.random() < 0.05,
                "area": None,
                "submitter": f"{role}.{rng.randint(1, 400)}",
                "submitter_role": role,
                "status": status,
                "not_adopted_reason": "内容不够具体" if status == "not_adopted" else None,
                "origin_case": None,
                "converted_to": None,
                "client_reference": None,
                "rulebook_version": "bench",
                "created_at": created,
                "submitted_at": created,
            },
        )
        if status not in ("submitted", "not_adopted"):
            for k, check in enumerate(("political", "facts", "content", "wording")):
                loader.add(
                    "intake",
                    OpinionCheck.__table__,
                    {
                        "item_id": item_id,
                        "round": 1,
                        "check": check,
                        "passed": True,
                        "note": "",
                        "checked_by": "staff.bench",
                        "checked_at": created + timedelta(days=1, minutes=k),
                    },
                )
        if status in reported:
            channel = rng.choice(CHANNELS)
            adopted = status != "sent"
            loader.add(
                "intake",
                OpinionReport.__table__,
                {
                    "item_id": item_id,
                    "issue_id": rng.choice(issues[channel]),
                    "channel": channel,
                    "signed_off_by": "committee.bench",
                    "reported_at": created + timedelta(days=3),
                    "adoption": "adopted" if adopted else None,
                    "adoption_note": None,
                    "adoption_recorded_by": "staff.bench" if adopted else None,
                    "adoption_at": created + timedelta(days=10) if adopted else None,
                    "publishable": adopted and rng.random() < 0.5,
                },
            )
            if adopted and rng.random() < 0.4:
                loader.add(
                    "intake",
                    OpinionInstruction.__table__,
                    {
                        "item_id": item_id,
                        "channel": channel,
                        "level": "city",
                        "leader": "市领导",
                        "text": "请有关部门研究办理。",
                        "recorded_by": "staff.bench",
                        "recorded_at": created + timedelta(days=12),
                    },
                )
    loader.flush_all()
    with eng.begin() as conn:
        conn.execute(OpinionCounter.__table__.delete().where(OpinionCounter.year == year))
        conn.execute(insert(OpinionCounter.__table__), [{"year": year, "last": first + count - 1}])
        if eng.dialect.name == "postgresql":
            for table in ("opinion_items", "opinion_issues"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    return loader.counts


def load_members(url: str, count: int) -> int:
    """Members into evaluation's directory at ``url`` up to ``count`` (a city committee's ~400)."""
    from services.evaluation.points.models import Member

    eng = db.get_engine(url)
    with eng.begin() as conn:
        have = set(conn.scalars(select(Member.user)))
        terms = conn.scalar(select(Member.terms).limit(1)) or []  # the terms the seeded members serve
        rows = [
            {
                "user": f"member.{n}",
                "name": f"委员{n:03d}",
                "sector": f"界别{n % 34:02d}",
                "terms": terms,
                "added_at": clock.now(),
            }
            for n in range(1, count + 1)
            if f"member.{n}" not in have
        ][: max(0, count - len(have))]
        if rows:
            conn.execute(insert(Member.__table__), rows)
    return len(rows)


def conn_scalar(eng, statement):
    with eng.connect() as conn:
        return conn.scalar(statement)


def instance_row(instance_id, version_id, number, waiting_tasks, created) -> dict:
    return {
        "id": instance_id,
        "process_id": "smoke",
        "version_id": version_id,
        "business_key": number,
        "status": "waiting" if waiting_tasks else "completed",
        "waiting_tasks": waiting_tasks,
        "waiting_messages": "",
        "next_timer": None,
        "revision": 8,
        "state": {},
        "data": {},
        "created_at": created,
        "updated_at": created,
    }


def work_item(instance_id, number, task, role, unit, user, status, created) -> dict:
    return {
        "task_id": str(uuid.uuid4()),
        "instance_id": instance_id,
        "process_id": "smoke",
        "business_key": number,
        "task_name": task,
        "title": f"{number} {task}",
        "candidate_role": role,
        "candidate_unit": unit,
        "candidate_user": user,
        "form_schema": None,
        "claimed_by": None,
        "status": status,
        "created_at": created,
        "completed_at": None if status == "open" else created,
        "completed_by": None if status == "open" else "bench",
    }


# -- the measurements ---------------------------------------------------------------------------


def hot_calls(urls: dict, probe: dict, year: int) -> dict:
    """name -> a function doing the call once and answering how many rows it returned."""
    engine = probe["engine"]

    def duplicates():
        with sessions(urls["intake"])() as s:
            found = intake_ops.find_duplicates(
                SqlIntakeUnitOfWork(s), RulebookRules(), {"proposal_id": probe["copy_id"]}, None
            )["candidates"]
            s.rollback()
        if probe["original"] not in [c["number"] for c in found]:
            raise engine_bench.BenchError(f"the duplicate search missed {probe['original']}: {found}")
        return len(found)

    def overdue():
        with db.transaction(sessions(urls["supervision"])) as s:
            board = supervision_queries.overdue(SqlSupervisionUnitOfWork(s), STAFF)  # the first page
            return sum(len(u["overdue"]) for u in board["units"])

    def report():
        with db.transaction(sessions(urls["intake"])) as s:
            return len(year_figures(SqlIntakeUnitOfWork(s), RulebookRules(), year, "members", STAFF)["proposals"])

    def proposals(principal, mine):
        def first_page():  # what GET /api/proposals answers: the newest page, with the total counted
            with db.transaction(sessions(urls["intake"])) as s:
                query = {"mine": "true"} if mine else {}
                return len(intake_proposals.proposal_page(SqlIntakeUnitOfWork(s), principal, query)["items"])

        return first_page

    def opinions(principal, **query):
        def first_page():  # what GET /api/opinions answers: the newest page, with the total counted
            with db.transaction(sessions(urls["intake"])) as s:
                return len(intake_opinions.item_page(SqlIntakeUnitOfWork(s), principal, query)["items"])

        return first_page

    def routing():
        """What GET /api/routing-suggestions answers for a page of ten: assignment asks intake's
        title index for the alike titles (here a direct call, not RPC), then counts their units."""

        def similar_titles(query):
            with db.transaction(sessions(urls["intake"])) as s:
                return intake_proposals.similar_titles(SqlIntakeUnitOfWork(s), query, STAFF)

        with db.transaction(sessions(urls["assignment"])) as s:
            found = assignment_routing.suggest_many(
                SqlAssignmentUnitOfWork(s), ROUTING_RULES, {"proposals": probe["routed"]}, STAFF, similar_titles
            )
        return sum(len(answer["suggestions"]) for answer in found)

    def assignments(principal):
        def first_page():  # what GET /api/assignments answers: the newest page, with the total counted
            with db.transaction(sessions(urls["assignment"])) as s:
                return len(assignment_queries.assignment_page(SqlAssignmentUnitOfWork(s), principal)["items"])

        return first_page

    return {
        # What GET /api/tasks answers: the first page, with the total counted.
        "task list, staff": lambda: len(engine.task_page(STAFF)["items"]),
        "task list, unit handler": lambda: len(engine.task_page(HANDLER)["items"]),
        "overdue board": overdue,
        "near-duplicate search": duplicates,
        "routing suggestions, ten": routing,
        "year's report (members)": report,
        "assignments, unit handler": assignments(HANDLER),
        "assignments, staff": assignments(STAFF),
        "proposals, staff": proposals(STAFF, mine=False),
        "proposals, a member's own (none)": proposals({"user": "member.9999", "roles": ["member"]}, mine=True),
        "opinions, staff": opinions(STAFF),
        "opinions, a member's own (none)": opinions({"user": "member.9999", "roles": ["member"]}, mine=True),
        "opinions, leader's awaiting": opinions(LEADER, awaiting="instruction"),
    }


def measure(urls: dict, probe: dict, year: int, repeat: int, lifecycles: int, run: str) -> dict:
    results = {}
    engine = probe["engine"]
    for i in range(3):  # warm: caches, statement cache, pool
        engine_bench.engine_lifecycle(engine, -1 - i, run)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(lifecycles):
        engine_bench.engine_lifecycle(engine, i, run)
    steps = lifecycles * engine_bench.STEPS_PER_LIFECYCLE
    results["engine step"] = {
        "ms": (time.perf_counter() - wall0) * 1000 / steps,
        "cpu_ms": (time.process_time() - cpu0) * 1000 / steps,
        "rows": 1,
    }
    for name, call in hot_calls(urls, probe, year).items():
        rows = call()  # warm
        walls, cpus = [], []
        for _ in range(repeat):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            rows = call()
            walls.append((time.perf_counter() - wall0) * 1000)
            cpus.append((time.process_time() - cpu0) * 1000)
        results[name] = {"ms": statistics.median(walls), "cpu_ms": statistics.median(cpus), "rows": rows}
    return results


def spiff_baselines(lifecycles: int) -> dict:
    definition = next(d for d in parse_paths([engine_bench.BPMN]) if d.process_id == "smoke")
    out = {}
    for name, roundtrip in (("spiff in memory", False), ("spiff + json", True)):
        rt = WorkflowRuntime()
        row = engine_bench.timed(
            name,
            lifecycles,
            5,
            lambda i, rt=rt, roundtrip=roundtrip: engine_bench.spiff_lifecycle(
                rt, definition.spec, f"smoke@{definition.version}", i, roundtrip
            ),
            lambda out: out,
        )
        out[name] = row["seconds"] * 1000 / row["steps"]
    return out


# -- the plans ----------------------------------------------------------------------------------


def _plans(eng, statements: list) -> list[tuple[str, str]]:
    """(statement, plan) of each of ``statements`` (``(sql, parameters)``) on ``eng``, rolled back."""
    plans = []
    raw = eng.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            if eng.dialect.name == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            rows = cursor.fetchall()
            plan = "\n".join(r[0] if eng.dialect.name == "postgresql" else f"  {r[-1]}" for r in rows)
            plans.append((" ".join(statement.split()), plan))
        raw.rollback()
    finally:
        raw.close()
    return plans


def explain(urls: dict, probe: dict, year: int) -> list[tuple[str, str, str]]:
    """(call, statement, plan) of every SELECT the measured calls ran, on the loaded database."""
    plans = []
    # The databases each call reads (the routing suggestions read intake's title index, then
    # assignment's record of where the alike proposals went).
    services_of = {
        "task list, staff": ("engine",),
        "task list, unit handler": ("engine",),
        "overdue board": ("supervision",),
        "near-duplicate search": ("intake",),
        "routing suggestions, ten": ("intake", "assignment"),
        "year's report (members)": ("intake",),
        "assignments, unit handler": ("assignment",),
        "assignments, staff": ("assignment",),
        "proposals, staff": ("intake",),
        "proposals, a member's own (none)": ("intake",),
        "opinions, staff": ("intake",),
        "opinions, a member's own (none)": ("intake",),
        "opinions, leader's awaiting": ("intake",),
    }
    for name, call in hot_calls(urls, probe, year).items():
        engines = [db.get_engine(urls[service]) for service in services_of[name]]
        seen: dict = {eng: [] for eng in engines}

        def capture(conn, cursor, statement, parameters, context, executemany, seen=seen):
            if statement.lstrip().upper().startswith("SELECT") and not executemany:
                seen[conn.engine].append((statement, parameters))

        for eng in engines:
            event.listen(eng, "before_cursor_execute", capture)
        try:
            call()
        finally:
            for eng in engines:
                event.remove(eng, "before_cursor_execute", capture)
        for eng in engines:
            plans.extend((name, statement, plan) for statement, plan in _plans(eng, seen[eng]))
    return plans


# -- the run ------------------------------------------------------------------------------------


def run_kind(kind: str, args, year: int) -> dict:
    print(f"[{kind}] migrating throwaway databases …", file=sys.stderr, flush=True)
    with databases(kind, args.postgres_url, args.keep) as urls:
        probe = make_probe(urls, year, random.Random(args.seed))
        run = uuid.uuid4().hex[:8]
        print(f"[{kind}] measuring, empty …", file=sys.stderr, flush=True)
        empty = measure(urls, probe, year, args.repeat, args.lifecycles, run + "e")
        opinion_counts: dict = {}
        if args.opinions:  # first: the proposals' load ends with ANALYZE, which then covers them too
            print(
                f"[{kind}] loading {args.opinions} opinion items over {args.years + 1} years …",
                file=sys.stderr,
                flush=True,
            )
            started = time.monotonic()
            for y in range(year - args.years, year + 1):  # as many each year, the rest this year
                share = args.opinions // (args.years + 1) + (args.opinions % (args.years + 1) if y == year else 0)
                for table, rows in load_opinions(urls["intake"], y, share, args.seed + y, args.quiet).items():
                    opinion_counts[table] = opinion_counts.get(table, 0) + rows
            opinion_counts["seconds"] = time.monotonic() - started
        print(
            f"[{kind}] loading {args.proposals} finished and {args.open} open proposals over {args.years + 1} years …",
            file=sys.stderr,
            flush=True,
        )
        counts = load(
            urls, probe, year, args.proposals, args.open, args.years, args.seed, args.quiet, this_year=args.year
        )
        for table, rows in opinion_counts.items():
            counts[table] = counts.get(table, 0) + rows
        counts["seconds"] = round(counts["seconds"], 1)
        print(
            f"[{kind}] loaded in {counts['seconds']} s: "
            + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "seconds"),
            file=sys.stderr,
            flush=True,
        )
        print(f"[{kind}] measuring, loaded …", file=sys.stderr, flush=True)
        loaded = measure(urls, probe, year, args.repeat, args.lifecycles, run + "l")
        plans = explain(urls, probe, year) if args.explain else []
    return {"kind": kind, "load": counts, "empty": empty, "loaded": loaded, "plans": plans}


def print_report(runs: list, baselines: dict, args, load_average) -> None:
    print(
        f"\nFlat with the data: {args.proposals} finished + {args.open} open proposals, {args.opinions} opinion items, "
        f"median of {args.repeat} (engine step: {args.lifecycles} lifecycles × 6 steps); "
        f"load average at the start {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f}, "
        f"at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"baselines (bench/engine.py): bare Spiff {baselines['spiff in memory']:.3f} ms/step, "
        f"Spiff + JSON {baselines['spiff + json']:.3f} ms/step"
    )
    for r in runs:
        print(f"\n{r['kind']} (loaded in {r['load']['seconds']} s)")
        print(
            f"{'call':<26} {'empty ms':>9} {'loaded ms':>10} {'ratio':>6} {'≤1.5×':>6} "
            f"{'cpu ms e/l':>14} {'rows e/l':>13}"
        )
        for name, e in r["empty"].items():
            loaded = r["loaded"][name]
            ratio = loaded["ms"] / e["ms"] if e["ms"] else float("inf")
            extra = ""
            if name == "engine step":
                extra = f"  ({loaded['ms'] / baselines['spiff in memory']:.1f}× bare Spiff loaded)"
            print(
                f"{name:<26} {e['ms']:>9.2f} {loaded['ms']:>10.2f} {ratio:>6.2f} "
                f"{'yes' if ratio <= TARGET else 'NO':>6} {e['cpu_ms']:>6.1f}/{loaded['cpu_ms']:<7.1f} "
                f"{e['rows']:>6}/{loaded['rows']:<6}{extra}"
            )
        for name, statement, plan in r["plans"]:
            print(f"\n-- {r['kind']}: {name}\n{statement}\n{plan}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="The hot queries (engine step, task lists, overdue board, near-duplicate search, the "
        "year's report) on an empty database and on one loaded with years of proposals, on "
        "SQLite and PostgreSQL, empty vs loaded and the ratio (target 1.5×). Needs no broker. "
        "The default (2,000 finished proposals) took about a minute per database on a "
        "2-CPU machine; --proposals 100000 --open 10000 took 37 minutes for both (loads of "
        "17 minutes on SQLite and 15 on PostgreSQL, under a load average of 25), 8 minutes under "
        "a load average of 2-7 (loads of 2 and 5 minutes), and about 1 GB of disk per database. "
        "See bench/README.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument(
        "--db",
        nargs="+",
        choices=("sqlite", "postgresql"),
        default=["sqlite", "postgresql"],
        help="database kinds, each measured with databases of its own",
    )
    ap.add_argument("--proposals", type=int, default=2000, help="finished proposals loaded (the full test: 100000)")
    ap.add_argument(
        "--open",
        type=int,
        default=None,
        help="open proposals of this year loaded, with their open work (default: a tenth of --proposals)",
    )
    ap.add_argument(
        "--opinions",
        type=int,
        default=None,
        help="opinion items loaded, spread over the years as the finished proposals (default: a fifth of --proposals)",
    )
    ap.add_argument("--years", type=int, default=10, help="past years the finished proposals spread over")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per measurement (the median is shown)")
    ap.add_argument(
        "--lifecycles", type=int, default=10, help="smoke.bpmn lifecycles timed for the engine step (6 steps each)"
    )
    ap.add_argument(
        "--explain",
        action="store_true",
        help="print the plan of every SELECT the calls ran on the loaded database "
        "(PostgreSQL EXPLAIN ANALYZE, SQLite EXPLAIN QUERY PLAN)",
    )
    ap.add_argument(
        "--postgres-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="an admin URL; databases ztc_growth_<random>_<service> are made there and dropped",
    )
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases (to explore them)")
    ap.add_argument("--seed", type=int, default=2026, help="random seed of the generated data")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress lines while loading")
    ap.add_argument(
        "--year",
        action="store_true",
        help=f"a city committee's year instead: {YEAR_FINISHED} finished and {YEAR_OPEN} open proposals, "
        "all of this year (--proposals and --open still choose other sizes)",
    )
    args = ap.parse_args(argv)
    if args.year:
        args.proposals = YEAR_FINISHED if args.proposals == ap.get_default("proposals") else args.proposals
        args.open = YEAR_OPEN if args.open is None else args.open
    if args.open is None:
        args.open = args.proposals // 10
    if args.opinions is None:
        args.opinions = args.proposals // 5
    if args.opinions < 0:
        ap.error("--opinions must be at least 0")
    if args.proposals < 0 or args.open < 0 or args.years < 1 or args.repeat < 1 or args.lifecycles < 1:
        ap.error("--proposals and --open must be at least 0, --years, --repeat and --lifecycles at least 1")
    load_average = os.getloadavg()
    year = clock.now().year
    baselines = spiff_baselines(20)
    runs = []
    for kind in args.db:
        try:
            runs.append(run_kind(kind, args, year))
        except engine_bench.BenchError as exc:
            print(f"[{kind}] FAILED: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:
            if kind == "postgresql" and "connect" in str(exc).lower():
                print(
                    f"cannot use PostgreSQL at {args.postgres_url}: {str(exc).strip()}\n"
                    "Start it, pass --postgres-url, or leave it out with --db sqlite.",
                    file=sys.stderr,
                )
                return 2
            raise
    print_report(runs, baselines, args, load_average)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "proposals": args.proposals,
                    "open": args.open,
                    "years": args.years,
                    "repeat": args.repeat,
                    "load_average": {"start": load_average, "end": os.getloadavg()},
                    "baselines_ms": baselines,
                    "runs": [
                        {**r, "plans": [{"call": c, "statement": s, "plan": p} for c, s, p in r["plans"]]} for r in runs
                    ],
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
