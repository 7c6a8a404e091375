"""RUN command checks: one Dockerfile that must fire and one that must not, per check."""

from __future__ import annotations

import pytest

from kubeward.misconfig import engine
from kubeward.misconfig.dockerfile.parse import parse_dockerfile

RUN_MODULE = "kubeward.misconfig.dockerfile.checks_run"


@pytest.fixture(autouse=True)
def _run_checks_module(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = engine.CHECK_MODULES["dockerfile"]
    if RUN_MODULE not in modules:
        monkeypatch.setitem(engine.CHECK_MODULES, "dockerfile", (*modules, RUN_MODULE))


def found(text: str, check_id: str | None = None) -> list[tuple[str, int | None]]:
    """(check id, line) of the RUN checks' findings on `text`, optionally of one check."""
    run = engine.run_checks(
        "dockerfile", parse_dockerfile(text.encode(), "Dockerfile"), path="Dockerfile"
    )
    assert [e for e in run.errors if e.split()[0] in RUN_IDS] == []
    return [
        (f.rule_id, f.location.line)
        for f in run.findings
        if (check_id is None and f.rule_id in RUN_IDS) or f.rule_id == check_id
    ]


RUN_IDS = {f"KW-DF-{n:03d}" for n in (*range(8, 20), *range(30, 37))}

CASES: list[tuple[str, str, list[int], str]] = [
    # (check, positive Dockerfile, lines, negative Dockerfile)
    (
        "KW-DF-008",
        "FROM alpine\nRUN set -e; \\\n  curl -fsSL https://get.example/x.sh | sh -s -- -y\n"
        'RUN wget -qO- https://x | sudo bash\nRUN bash -c "$(curl -fsSL https://x)"\n',
        [3, 4, 5],
        "FROM alpine\nRUN curl -fsSLo /tmp/x.sh https://x && sha256sum -c sums && sh /tmp/x.sh\n"
        "RUN curl -s https://x | tar xz && echo 'curl x | sh'\n",
    ),
    (
        "KW-DF-009",
        "FROM debian\nRUN apt-get update && \\\n    apt-get install --no-install-recommends curl\n",
        [3],
        "FROM debian\nRUN apt-get install -y curl && apt-get -qq install wget \\\n"
        " && apt-get install --yes a && apt-get install -qy b && apt-get update\n",
    ),
    (
        "KW-DF-010",
        "FROM debian\nRUN apt-get update\nRUN apt-get -y install curl\n",
        [3],
        "FROM debian\nRUN apt-get install -y --no-install-recommends curl\n"
        "RUN apt-get -o APT::Install-Recommends=false install -y wget\n",
    ),
    (
        "KW-DF-011",
        "FROM debian AS build\nRUN apt-get install -y gcc\n"
        "FROM build\nRUN echo hi \\\n && apt-get install -y curl\n",
        [2, 5],
        "FROM debian AS build\nRUN apt-get install -y gcc\nFROM debian\n"
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "RUN --mount=type=cache,target=/var/lib/apt apt-get install -y wget\n",
    ),
    (
        "KW-DF-012",
        "FROM debian\nRUN apt-get update \\\n && apt-get -y upgrade\nRUN apt-get dist-upgrade -y\n",
        [3, 4],
        "FROM debian\nRUN apt-get install -y --only-upgrade openssl=3.0.11-1\n",
    ),
    (
        "KW-DF-013",
        "FROM alpine\nRUN apk update && apk add curl=8.5.0-r0\n",
        [2],
        "FROM alpine\nRUN apk add --no-cache curl=8.5.0-r0 && apk --no-cache del x\n",
    ),
    (
        "KW-DF-014",
        "FROM debian\nRUN apt-get install -y curl=7.88.1-10 \\\n  wget\n",
        [2],
        "FROM debian\nRUN apt-get install -y -t bookworm-backports curl=7.88.1-10 ./local.deb\n",
    ),
    (
        "KW-DF-015",
        "FROM alpine\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev=1.2.4-r2\n",
        [2],
        "FROM alpine\nRUN apk add --no-cache --virtual .deps gcc=13.2.1-r0 'musl-dev~1.2' 'x>1'\n",
    ),
    (
        "KW-DF-016",
        "FROM fedora\nRUN dnf -y install httpd && yum clean all\n"
        "RUN microdnf install -y python3-devel && microdnf clean all\n",
        [2, 3],
        "FROM fedora\nRUN dnf install -y httpd-2.4.57 /tmp/x.rpm --setopt=tsflags=nodocs \\\n"
        " && dnf clean all\n",
    ),
    (
        "KW-DF-017",
        "FROM python\nRUN pip install --no-cache-dir -r req.txt flask\n"
        "RUN python3 -m pip install --no-cache-dir --upgrade pip\n",
        [2, 3],
        "FROM python\nRUN pip install --no-cache-dir -r requirements.txt -c c.txt . ./pkg \\\n"
        " 'flask==3.0.2' 'django>=4.2,<5' git+https://x/y.git@v1 dist/a.whl -e ../lib\n",
    ),
    (
        "KW-DF-018",
        "FROM node\nRUN npm install --global @angular/cli typescript@5.3.3\n",
        [2],
        "FROM node\nRUN npm ci && npm install && npm install -g @angular/cli@17.1.0 ./local x@1\n",
    ),
    (
        "KW-DF-019",
        "FROM ruby\nRUN gem install bundler\n",
        [2],
        "FROM ruby\nRUN gem install bundler:2.5.6 && gem install rails -v 7.1.3\n",
    ),
    (
        "KW-DF-030",
        "FROM python\nRUN pip install flask==3.0.2 \\\n && pip3 install x==1\n",
        [2, 3],
        "FROM python AS base\nENV PIP_NO_CACHE_DIR=1\nFROM base\nRUN pip install flask==3.0.2\n"
        "FROM python\nRUN pip install --no-cache-dir a==1 && PIP_NO_CACHE_DIR=1 pip install b==2\n",
    ),
    (
        "KW-DF-031",
        "FROM debian\nRUN sudo apt-get install -y --no-install-recommends curl=1 \\\n"
        " && rm -rf /var/lib/apt/lists/*\n",
        [2],
        "FROM debian\nUSER root\nRUN echo sudo && useradd -m sudoer\n",
    ),
    (
        "KW-DF-032",
        "FROM alpine\nRUN chmod 777 /app\n"
        "RUN chmod -R a+rwx /data && sudo -u app chmod o+w,u+x /x\n",
        [2, 3, 3],
        "FROM alpine\nRUN chmod 1777 /tmp && chmod 755 /app && chmod -R u+rwx,go+rx /x\n",
    ),
    (
        "KW-DF-033",
        "FROM alpine\nRUN cd /src && make\n",
        [2],
        "FROM alpine\nWORKDIR /src\nRUN make && echo cd\n",
    ),
    (
        "KW-DF-034",
        "FROM debian\nRUN useradd -m -u 100000 app\n",
        [2],
        "FROM debian\nRUN useradd -l -u 100000 app && useradd --no-log-init --uid=123456 b \\\n"
        " && useradd -u 1000 c\n",
    ),
    (
        "KW-DF-035",
        "FROM alpine\nRUN wget -q https://x\nRUN echo a && \\\n curl -fsSLO https://y\n"
        "RUN wget https://z\n",
        [4],
        "FROM alpine\nRUN curl -fsSLO https://x\nRUN curl -fsSLO https://y\n",
    ),
    (
        "KW-DF-036",
        "FROM centos\nRUN yum install -y httpd-2.4.6\n",
        [2],
        "FROM centos\nRUN yum install -y httpd-2.4.6 && yum clean all\n"
        "RUN dnf install -y a-1.0 && rm -rf /var/cache/dnf\n",
    ),
]


@pytest.mark.parametrize(("check_id", "positive", "lines", "negative"), CASES)
def test_check_fires_on_positive(
    check_id: str, positive: str, lines: list[int], negative: str
) -> None:
    assert found(positive, check_id) == [(check_id, line) for line in lines]


@pytest.mark.parametrize(("check_id", "positive", "lines", "negative"), CASES)
def test_check_silent_on_negative(
    check_id: str, positive: str, lines: list[int], negative: str
) -> None:
    assert found(negative, check_id) == []


def test_every_run_check_has_cases_and_metadata() -> None:
    assert {c[0] for c in CASES} == RUN_IDS
    metadata = engine.load_metadata()
    for check_id in RUN_IDS:
        meta = metadata[check_id]
        assert meta.target == "dockerfile"
        assert meta.description and meta.remediation and meta.references and meta.tags
    assert dict(metadata["KW-DF-014"].mappings) == {"hadolint": "DL3008"}
    assert dict(metadata["KW-DF-008"].mappings) == {"cis-docker": "4.11", "hadolint": "DL4001"}


def test_typical_dockerfile_all_run_findings() -> None:
    text = (
        "FROM debian:12\n"
        "RUN apt-get update \\\n"
        "    && apt-get install curl wget \\\n"
        "    && curl -fsSL https://x | sh \\\n"
        "    && wget -q https://y\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "RUN pip install flask && cd /x && sudo chmod -R 777 /app\n"
    )
    assert sorted(found(text), key=lambda f: (f[1] or 0, f[0])) == [
        ("KW-DF-009", 3),
        ("KW-DF-010", 3),
        ("KW-DF-011", 3),
        ("KW-DF-014", 3),
        ("KW-DF-008", 4),
        ("KW-DF-035", 5),
        ("KW-DF-017", 7),
        ("KW-DF-031", 7),
        ("KW-DF-032", 7),
        ("KW-DF-033", 7),
    ]


def test_exec_form_run_is_checked() -> None:
    text = 'FROM debian\nRUN ["apt-get", "install", "-y", "--no-install-recommends", "curl"]\n'
    assert found(text, "KW-DF-014") == [("KW-DF-014", 2)]
    assert found(text, "KW-DF-009") == []
