"""``ztc demo``: drive several proposals down different paths on a running system, through the
HTTP API with the demo tokens ``make run`` printed, so a newcomer finds proposals at every stage.

It acts as the people would — members submit and rate, staff pre-review, assign and review, the
committee decides and grades, unit handlers sign, co-sign and reply, a leader keeps a log — and
says what it did for each proposal.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import requests

DRAFTS = [
    (
        "在学校周边设置安全过街设施",
        "城区多所小学门前缺少信号灯，上下学高峰人车混行。",
        "交通流量增加，设施未随学校扩招改造。",
        "增设信号灯；高峰时段安排协管；设置限速标志。",
    ),
    (
        "推进老旧小区加装电梯",
        "全市老旧小区多为六层以下无电梯住宅，老年住户出行困难。",
        "审批流程长、费用分摊难、低层住户意见不一。",
        "简化审批；设立专项补贴；建立费用分摊指引。",
    ),
    (
        "加强社区养老服务供给",
        "社区日间照料中心覆盖不足，服务内容单一。",
        "运营经费依赖财政，专业护理人员短缺。",
        "引入社会力量运营；开展护理员培训；完善补贴机制。",
    ),
    (
        "整治城区河道黑臭水体",
        "部分城区河道夏季出现黑臭，群众反映强烈。",
        "雨污分流不彻底，沿河排口监管不到位。",
        "实施雨污分流改造；排查整治排口；建立河长巡查制度。",
    ),
    (
        "缓解老城区停车难",
        "老城区停车泊位缺口大，车辆占道停放影响通行。",
        "配建标准偏低，错时共享机制尚未建立。",
        "挖潜增设公共泊位；推动机关单位车位错时开放；建设智慧停车平台。",
    ),
    (
        "提升公交线网覆盖",
        "新建小区公交线路不足，居民出行不便。",
        "线网调整滞后于城市扩张。",
        "开通社区微循环公交；优化换乘站点。",
    ),
]
# A personal matter, which the committee does not file as a proposal (the "not filed" path).
PERSONAL_MATTER = ("关于个人住房纠纷的请求", "本人与邻居因房屋产权发生纠纷。", "多次协商未果。", "请求政协出面调解。")


class DemoError(Exception):
    pass


class Client:
    def __init__(self, base: str, tokens: dict, timeout: float = 60):
        self.base, self.tokens, self.timeout = base.rstrip("/"), tokens, timeout

    def call(self, who, method, path, body=None, ok=(200, 201, 202)):
        response = requests.request(
            method, self.base + path, json=body, timeout=30, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        if response.status_code not in ok:
            raise DemoError(f"{who} {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def wait(self, what, probe):
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.3)
        raise DemoError(f"timed out waiting for {what}")

    def complete(self, who, task, number, data):
        def find():
            listed = self.call(who, "GET", f"/api/tasks?business_key={number}")["items"]
            return [t for t in listed if t["task"] == task]

        found = self.wait(f"task {task} of {number}", find)[0]
        return self.call(who, "POST", f"/api/tasks/{found['task_id']}/complete", {"data": data})

    def assignment(self, who, number, round_=1):
        def find():
            return [
                a
                for a in self.call(who, "GET", f"/api/assignments?number={number}&per_page=200")["items"]
                if a["round"] == round_ and a["status"] != "cancelled"
            ]

        return self.wait(f"{who}'s assignment of {number}", find)[0]

    def status(self, number):
        return self.call("staff", "GET", f"/api/proposals/{number}")["status"]


def _submit(c, n, cosigners=(), draft=None):
    title, situation, analysis, suggestions = draft or DRAFTS[n % len(DRAFTS)]
    return c.call(
        "member",
        "POST",
        "/api/proposals",
        {
            "kind": "between_sessions",
            "title": title,
            "situation": situation,
            "analysis": analysis,
            "suggestions": suggestions,
            "publish_consent": True,
            "cosigners": list(cosigners),
        },
    )["number"]


def _file(c, number):
    c.complete("staff", "pre_review", number, {"eligible": True, "content_ok": True, "format_ok": True})
    c.complete("committee", "filing_decision", number, {"decision": "filed"})


def _reply(c, number, who="unit", category="A", text="已办理。", round_=1, milestones=None):
    mine = c.assignment(who, number, round_)
    if mine["status"] == "assigned":
        c.call(who, "POST", f"/api/assignments/{mine['id']}/sign")
    draft = {"category": category, "text": text, **({"milestones": milestones} if milestones else {})}
    c.call(who, "POST", f"/api/assignments/{mine['id']}/reply-draft", draft)
    return mine


def _rate(c, number, who="member", handling="satisfied", result="satisfied"):
    c.wait(
        f"the rating round of {number}",
        lambda: (
            requests.post(
                f"{c.base}/api/proposals/{number}/ratings",
                json={"handling": handling, "result": result},
                timeout=30,
                headers={"Authorization": f"Bearer {c.tokens[who]}"},
            ).status_code
            == 201
        ),
    )


def published_joint_proposal(c, n):
    number = _submit(c, n, cosigners=["member.zhou"])
    c.call("cosigner", "POST", f"/api/proposals/{number}/cosign")
    _file(c, number)
    c.complete("staff", "assign", number, {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})
    lead = _reply(c, number, category="A", text="已在三所小学门前增设信号灯。")
    co = c.assignment("co_unit", number)
    c.call("co_unit", "POST", f"/api/assignments/{co['id']}/sign")
    c.call("co_unit", "POST", f"/api/assignments/{co['id']}/cosign-reply")
    c.call("unit", "POST", f"/api/assignments/{lead['id']}/reply")
    c.complete("staff", "review_reply", number, {"action": "accept"})
    _rate(c, number)
    _rate(c, number, who="cosigner")
    c.complete("committee", "grade_quality", number, {"grade": "excellent"})
    c.wait(f"{number} to be published", lambda: c.status(number) == "published")
    return number, "joint proposal: filed, lead + co-unit, co-signed reply A, rated satisfied, published"


def not_filed(c, n):
    number = _submit(c, n, draft=PERSONAL_MATTER)
    c.complete("staff", "pre_review", number, {"eligible": False, "content_ok": False, "format_ok": True})
    c.complete(
        "committee",
        "filing_decision",
        number,
        {"decision": "not_filed", "reason_code": "personal_or_family", "convert_to": "letter"},
    )
    c.wait(f"{number}'s filing record", lambda: c.status(number) == "not_filed")
    return number, "not filed (a personal matter), converted into a letter; the proposer was told why"


def objected_and_reassigned(c, n):
    number = _submit(c, n)
    _file(c, number)
    c.complete("staff", "assign", number, {"mode": "single", "units": ["education"]})
    wrong = c.assignment("co_unit", number)
    c.call("co_unit", "POST", f"/api/assignments/{wrong['id']}/object", {"reason": "属交通部门职责"})
    c.complete("staff", "reassign", number, {"mode": "single", "units": ["transport"]})
    mine = c.assignment("unit", number)
    c.call("unit", "POST", f"/api/assignments/{mine['id']}/sign")
    return number, "education objected, staff reassigned it to transport, which signed for it and is handling it"


def key_proposal_under_supervision(c, n):
    number = _submit(c, n)
    _file(c, number)
    c.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    c.assignment("unit", number)
    year = int(number.split("-")[0])  # the session year the number starts with
    listed = c.call(
        "staff",
        "POST",
        f"/api/key-proposals/{year}/list",
        {"items": [{"number": number, "reason": "群众关注度高，涉及多个部门", "leader": "leader.chen"}]},
    )
    c.call("committee", "POST", f"/api/key-proposals/lists/{listed['id']}/decision", {})
    c.wait(
        "the key proposal's registration",
        lambda: (
            requests.post(
                f"{c.base}/api/proposals/{number}/supervision-log",
                json={"kind": "visit", "text": "实地察看现场"},
                timeout=30,
                headers={"Authorization": f"Bearer {c.tokens['leader']}"},
            ).status_code
            == 201
        ),
    )
    return number, (
        "chosen as a key proposal at the chair's meeting, supervised by leader.chen, with a visit "
        "in the log; waiting for the reply"
    )


def b_reply_awaiting_follow_up(c, n):
    number = _submit(c, n)
    _file(c, number)
    c.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    soon = date.today() + timedelta(days=90)
    mine = _reply(
        c,
        number,
        category="B",
        text="已列入明年改造计划。",
        milestones=[
            {"what": "完成设计招标", "due": soon.isoformat()},
            {"what": "完成改造", "due": (soon + timedelta(days=180)).isoformat()},
        ],
    )
    c.call("unit", "POST", f"/api/assignments/{mine['id']}/reply")
    c.complete("staff", "review_reply", number, {"action": "accept"})
    _rate(c, number, handling="satisfied", result="basically_satisfied")
    return number, "answered B (planned, two milestones); rated; once graded it is published with its follow-up pending"


def awaiting_pre_review(c, n):
    number = _submit(c, n)
    return number, "submitted; waiting for staff's pre-review"


PATHS = [
    published_joint_proposal,
    not_filed,
    objected_and_reassigned,
    key_proposal_under_supervision,
    b_reply_awaiting_follow_up,
    awaiting_pre_review,
]


def run(base: str, token_file, echo=print) -> int:
    try:
        tokens = json.loads(open(token_file).read())
    except FileNotFoundError:
        echo(f"error: {token_file} not found: start the system with 'make run' first")
        return 1
    client = Client(base, tokens)
    try:
        requests.get(base + "/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        echo(f"error: the gateway at {base} does not answer ({exc}); start the system with 'make run'")
        return 1
    failures = 0
    for n, path in enumerate(PATHS):
        try:
            number, story = path(client, n)
            echo(f"{number}: {story}")
        except DemoError as exc:
            failures += 1
            echo(f"{path.__name__}: stopped: {exc}")
    echo(f"see them: curl -s -H 'Authorization: Bearer {tokens['staff']}' {base}/api/proposals")
    return 1 if failures else 0
