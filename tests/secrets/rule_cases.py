"""Test data for the packaged secret rules: for every rule id, fake secrets it must find and
near misses it must not.

Every token here is generated at import from a fixed-seed generator (or is a published
documentation example), so the file itself holds nothing a secret scanner would flag.
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
LETTERS = string.ascii_letters
HEX = "0123456789abcdef"
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BASE32 = string.ascii_uppercase + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
CRYPT = "./" + ALNUM
PASSWORD = ALNUM + "!#%^*-_."

# Substrings a generated value must not contain: the rule file's placeholders would (rightly)
# drop it, and the test would then fail for a reason that has nothing to do with the rule.
_AVOID = (
    "test", "fake", "xxxx", "example", "secret", "password", "passw0rd", "sample", "dummy",
    "insert", "replace", "masked", "redacted", "foobar", "your", "change", "notreal",
    "not_real", "not-real", "placeholder", "***", "...", "aaaaaaaaaaaaaaaaaaaaa",
)  # fmt: skip

_rng = random.Random(0x6B77)


def rand(alphabet: str, n: int) -> str:
    """`n` characters of `alphabet` that read as random: no placeholder word, not one repeated
    character."""
    while True:
        value = "".join(_rng.choice(alphabet) for _ in range(n))
        if not any(word in value.lower() for word in _AVOID) and len(set(value)) >= min(3, n):
            return value


def digits(n: int) -> str:
    """`n` random digits, the first non-zero."""
    return str(_rng.randint(1, 9)) + "".join(_rng.choice(string.digits) for _ in range(n - 1))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def random_bytes(n: int) -> bytes:
    return bytes(_rng.getrandbits(8) for _ in range(n))


def uuid4() -> str:
    h = rand(HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def pem(label: str, nbytes: int, indent: str = "", newline: str = "\n") -> str:
    """A PEM block of random bytes (the armor lines are assembled here, never written out)."""
    body = b64(random_bytes(nbytes))
    lines = [f"-----BEGIN {label}-----"]
    lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    lines.append(f"-----END {label}-----")
    return (newline + indent).join(lines)


def jwt(payload: dict[str, object], header: dict[str, object] | None = None) -> str:
    head = header or {"alg": "RS256", "kid": rand(B64URL, 20), "typ": "JWT"}
    return ".".join(
        [
            b64url(json.dumps(head, separators=(",", ":")).encode()),
            b64url(json.dumps(payload, separators=(",", ":")).encode()),
            b64url(random_bytes(256)),
        ]
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """`text` (the contents of `path`) holds `secret` (and `more`, in file order) for the rule."""

    text: str
    secret: str
    path: str = "app/config.env"
    more: tuple[str, ...] = ()

    @property
    def secrets(self) -> list[str]:
        return [self.secret, *self.more]


@dataclass(frozen=True, slots=True)
class Miss:
    """`text` (the contents of `path`) must not make the rule report anything."""

    text: str
    path: str = "app/config.env"


@dataclass(frozen=True, slots=True)
class Cases:
    hits: tuple[Hit, ...]
    misses: tuple[Miss, ...]


def cases(hits: list[Hit], misses: list[Miss | str]) -> Cases:
    return Cases(tuple(hits), tuple(m if isinstance(m, Miss) else Miss(m) for m in misses))


def _pw() -> str:
    """A strong random password made only of characters that every carrier keeps intact."""
    return rand(PASSWORD, 18)


# --- values reused across several cases -------------------------------------------------------

_AKIA = "AKIA" + rand(BASE32, 16)
_AWS_SECRET = rand(B64, 40)
_GHP = "ghp_" + rand(ALNUM, 36)
_AZURE_KEY = b64(random_bytes(64))
_PW = [_pw() for _ in range(16)]
_BEGIN = "-----BEGIN "
_END = "-----END "
_CERT_DATA = b64(pem("CERTIFICATE", 600).encode())
_KEY_DATA = b64(pem("RSA PRIVATE KEY", 1190).encode())
_K8S_TOKEN = f"{rand(LOWER_ALNUM, 6)}.{rand(LOWER_ALNUM, 16)}"
_SA_LEGACY = jwt(
    {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "shop",
        "kubernetes.io/serviceaccount/secret.name": "cart-token-" + rand(LOWER_ALNUM, 5),
    }
)
_SA_BOUND = jwt(
    {
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "exp": 1900000000,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "cart"}},
    }
)
_JWT = jwt({"sub": uuid4(), "iss": "https://auth.acme.io", "iat": 1700000000, "scope": "read"})
_JWT_IO_EXAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
    "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

_RSA = pem("RSA PRIVATE KEY", 1190)
_EC_YAML = pem("EC PRIVATE KEY", 121, indent="    ")
_OPENSSH = pem("OPENSSH PRIVATE KEY", 400)
_PKCS8 = pem("PRIVATE KEY", 1216)
_PKCS8_JSON = pem("PRIVATE KEY", 1216, newline="\\n")
_DSA = pem("DSA PRIVATE KEY", 440)
_ENCRYPTED = pem("ENCRYPTED PRIVATE KEY", 1300)
_LEGACY_ENCRYPTED = (
    _BEGIN
    + "RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"
    + rand(HEX, 32).upper()
    + "\n\n"
    + "\n".join(rand(B64, 64) for _ in range(18))
    + "\n"
    + _END
    + "RSA PRIVATE KEY-----"
)
_PGP = (
    _BEGIN
    + "PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: build signing key\n\n"
    + "\n".join(rand(B64, 64) for _ in range(30))
    + "\n="
    + rand(B64, 4)
    + "\n"
    + _END
    + "PGP PRIVATE KEY BLOCK-----"
)
_PUTTY_PRIVATE = "\n".join([rand(B64, 64), rand(B64, 64), rand(B64, 64), rand(B64, 20) + "=="])
_PUTTY = (
    "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: rsa-key-20240101\n"
    f"Public-Lines: 2\n{rand(B64, 64)}\n{rand(B64, 40)}\nPrivate-Lines: 4\n{_PUTTY_PRIVATE}\n"
    f"Private-MAC: {rand(HEX, 40)}\n"
)


def _docker_auth() -> str:
    return b64(f"deploy{rand(LOWER_ALNUM, 3)}:{_pw()}".encode())


_DOCKER = [_docker_auth(), _docker_auth(), _docker_auth()]
_SA_JSON_KEY = _PKCS8_JSON + "\\n"
_SAS_SIG = urllib.parse.quote(b64(random_bytes(32)), safe="")
_DISCORD = f"M{rand(B64URL, 23)}.{rand(B64URL, 6)}.{rand(B64URL, 27)}"
_TWITTER_BEARER = "A" * 21 + rand(ALNUM + "%", 80)
_BASIC = b64(f"ci-bot:{_pw()}".encode())

CASES: dict[str, Cases] = {
    # --- Amazon Web Services ---------------------------------------------------------------
    "aws-access-key-id": cases(
        [
            Hit(f"aws_access_key_id = {_AKIA}\n", _AKIA, "root/.aws/credentials"),
            Hit(f'{{"AccessKeyId": "{(k := "ASIA" + rand(BASE32, 16))}"}}', k, "out.json"),
        ],
        [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            f"aws_access_key_id = AKIA{rand(BASE32, 15)}",
            f"aws_access_key_id = AKIA{rand(BASE32, 17)}",
            f"key = AKIB{rand(BASE32, 16)}",
            f"key = akia{rand(BASE32, 16).lower()}",
        ],
    ),
    "aws-secret-access-key": cases(
        [
            Hit(f"aws_secret_access_key = {_AWS_SECRET}\n", _AWS_SECRET, "root/.aws/credentials"),
            Hit(f'"SecretAccessKey": "{(s := rand(B64, 40))}",', s, "sts.json"),
            Hit(f"export AWS_SECRET_ACCESS_KEY='{(s2 := rand(B64, 40))}'", s2, "deploy.sh"),
        ],
        [
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"aws_secret_access_key = {rand(B64, 39)}",
            f"aws_secret_access_key = {rand(B64, 41)}",
            f"some_value = {rand(B64, 40)}",
            "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
        ],
    ),
    "aws-session-token": cases(
        [
            Hit(
                f"aws_session_token = {(t := 'IQoJb3JpZ2luX2VjE' + rand(B64, 300) + '==')}\n",
                t,
                "root/.aws/credentials",
            )
        ],
        [
            "aws_session_token = ${AWS_SESSION_TOKEN}",
            f"aws_session_token = {rand(B64, 60)}",
        ],
    ),
    "aws-mws-auth-token": cases(
        [Hit(f"MWS_AUTH_TOKEN=amzn.mws.{(u := uuid4())}", f"amzn.mws.{u}")],
        ["MWS_AUTH_TOKEN=amzn.mws.1234abcd", f"MWS_AUTH_TOKEN=amzn.mws.{uuid4()[:-1]}"],
    ),
    # --- Google Cloud ------------------------------------------------------------------------
    "gcp-service-account": cases(
        [
            Hit(
                "{\n"
                '  "type": "service_account",\n'
                '  "project_id": "shop-123456",\n'
                f'  "private_key_id": "{rand(HEX, 40)}",\n'
                f'  "private_key": "{_SA_JSON_KEY}",\n'
                '  "client_email": "cart@shop-123456.iam.gserviceaccount.com"\n'
                "}\n",
                _SA_JSON_KEY,
                "srv/app/credentials/service-account.json",
            )
        ],
        [
            Miss(
                '{"type": "authorized_user", "client_id": "1", "refresh_token": "x",'
                f' "private_key": "{_SA_JSON_KEY}"}}',
                "adc.json",
            ),
            Miss('{"type": "service_account", "private_key": ""}', "sa.json"),
        ],
    ),
    "gcp-api-key": cases(
        [Hit(f'const firebaseConfig = {{ apiKey: "{(k := "AIza" + rand(B64URL, 35))}" }};', k)],
        [f'apiKey: "AIza{rand(B64URL, 34)}"', f'apiKey: "AIza{rand(B64URL, 36)}"'],
    ),
    "gcp-oauth-client-secret": cases(
        [Hit(f'"client_secret": "{(k := "GOCSPX-" + rand(B64URL, 28))}"', k)],
        [f'"client_secret": "GOCSPX-{rand(B64URL, 27)}"', '"client_secret": "GOCSPX-' + "x" * 28],
    ),
    "gcp-oauth-access-token": cases(
        [Hit(f"access_token={(k := 'ya29.' + rand(B64URL, 160))}", k, "app/debug.log")],
        [f"ya29.{rand(B64URL, 20)}", f"kya29.{rand(B64URL, 160)}"],
    ),
    # --- Microsoft Azure ---------------------------------------------------------------------
    "azure-storage-account-key": cases(
        [
            Hit(
                "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=shop01;"
                f"AccountKey={_AZURE_KEY};EndpointSuffix=core.windows.net",
                _AZURE_KEY,
            ),
            Hit(f'AZURE_STORAGE_KEY="{(k := b64(random_bytes(64)))}"', k),
        ],
        [
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNO"
            "cqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;",
            f"AccountKey={rand(B64, 80)}==",
            "AccountKey=<storage-account-key>",
        ],
    ),
    "azure-shared-access-key": cases(
        [
            Hit(
                "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=RootManage"
                f"SharedAccessKey;SharedAccessKey={(k := b64(random_bytes(32)))}",
                k,
            )
        ],
        ["SharedAccessKey=<key>", f"SharedAccessKey={rand(B64, 30)}="],
    ),
    "azure-ad-client-secret": cases(
        [
            Hit(
                'AZURE_CLIENT_SECRET="'
                + (k := rand(ALNUM, 3) + digits(1) + "Q~" + rand(B64URL + "~.", 34))
                + '"',
                k,
            )
        ],
        [
            f'AZURE_CLIENT_SECRET="{rand(ALNUM, 3)}{digits(1)}Q~{rand(ALNUM, 20)}"',
            f'AZURE_CLIENT_SECRET="{rand(ALNUM, 3)}{digits(1)}X~{rand(ALNUM, 34)}"',
        ],
    ),
    "azure-sas-token": cases(
        [
            Hit(
                "https://shop.blob.core.windows.net/backups/db.tar?sv=2021-06-08&ss=b&srt=sco"
                f"&sp=rl&se=2030-01-01T00:00:00Z&spr=https&sig={_SAS_SIG}",
                _SAS_SIG,
            )
        ],
        [
            f"https://cdn.example.net/img.png?sig={_SAS_SIG}",
            "https://shop.blob.core.windows.net/b/f?sv=2021-06-08&sp=r&sig=abc%3D",
        ],
    ),
    # --- GitHub ------------------------------------------------------------------------------
    "github-pat": cases(
        [Hit(f"GITHUB_TOKEN={_GHP}\n", _GHP), Hit(f'"token": "{_GHP}"', _GHP, "a.json")],
        [
            f"GITHUB_TOKEN=ghp_{rand(ALNUM, 35)}",
            f"GITHUB_TOKEN=ghp_{rand(ALNUM, 37)}",
            "GITHUB_TOKEN=ghp_" + "x" * 36,
            "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            f"GITHUB_TOKEN=ghq_{rand(ALNUM, 36)}",
        ],
    ),
    "github-fine-grained-pat": cases(
        [Hit(f"GH_TOKEN={(k := 'github_pat_' + rand(ALNUM, 22) + '_' + rand(ALNUM, 59))}", k)],
        [f"GH_TOKEN=github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 58)}"],
    ),
    "github-oauth": cases(
        [Hit(f"oauth_token: {(k := 'gho_' + rand(ALNUM, 36))}", k, "root/.config/gh/hosts.yml")],
        [f"oauth_token: gho_{rand(ALNUM, 30)}"],
    ),
    "github-app-token": cases(
        [
            Hit(f"token={(k := 'ghs_' + rand(ALNUM, 36))}", k),
            Hit(f"token={(k2 := 'ghu_' + rand(ALNUM, 36))}", k2),
        ],
        [f"token=ght_{rand(ALNUM, 36)}", f"token=ghs_{rand(ALNUM, 20)}"],
    ),
    "github-refresh-token": cases(
        [Hit(f"refresh_token={(k := 'ghr_' + rand(ALNUM, 76))}", k)],
        [f"refresh_token=ghr_{rand(ALNUM, 30)}"],
    ),
    # --- GitLab ------------------------------------------------------------------------------
    "gitlab-pat": cases(
        [
            Hit(f"GITLAB_TOKEN={(k := 'glpat-' + rand(B64URL, 20))}", k),
            Hit(
                "GITLAB_TOKEN="
                + (k2 := "glpat-" + rand(B64URL, 40) + ".01" + rand(LOWER_ALNUM, 7)),
                k2,
            ),
        ],
        [f"GITLAB_TOKEN=glpat-{rand(ALNUM, 19)} ", f"GITLAB_TOKEN=glpat-{rand(ALNUM, 23)}"],
    ),
    "gitlab-runner-registration-token": cases(
        [Hit(f"registration-token: {(k := 'GR1348941' + rand(B64URL, 20))}", k)],
        [f"registration-token: GR1348941{rand(ALNUM, 19)}"],
    ),
    "gitlab-runner-auth-token": cases(
        [Hit(f'  token = "{(k := "glrt-" + rand(B64URL, 20))}"', k, "etc/gitlab-runner/c.toml")],
        [f'  token = "glrt-{rand(ALNUM, 12)}"'],
    ),
    "gitlab-ci-job-token": cases(
        [Hit(f"CI_JOB_TOKEN={(k := 'glcbt-' + rand(ALNUM, 2) + '_' + rand(B64URL, 20))}", k)],
        [f"CI_JOB_TOKEN=glcbt-{rand(ALNUM, 25)}"],
    ),
    "gitlab-deploy-token": cases(
        [Hit(f"DEPLOY_TOKEN={(k := 'gldt-' + rand(B64URL, 20))}", k)],
        [f"DEPLOY_TOKEN=gldt-{rand(ALNUM, 15)}"],
    ),
    "gitlab-pipeline-trigger-token": cases(
        [Hit(f"-F token={(k := 'glptt-' + rand(HEX, 40))}", k, "ci/trigger.sh")],
        [f"-F token=glptt-{rand(HEX, 39)}"],
    ),
    "gitlab-oauth-app-secret": cases(
        [Hit(f"GITLAB_APP_SECRET={(k := 'gloas-' + rand(B64URL, 64))}", k)],
        [f"GITLAB_APP_SECRET=gloas-{rand(ALNUM, 63)}"],
    ),
    "gitlab-feed-token": cases(
        [Hit(f"feed_token={(k := 'glft-' + rand(B64URL, 20))}", k)],
        [f"feed_token=glft-{rand(ALNUM, 10)}"],
    ),
    "gitlab-agent-token": cases(
        [Hit(f"config.token={(k := 'glagent-' + rand(B64URL, 50))}", k)],
        [f"config.token=glagent-{rand(ALNUM, 30)}"],
    ),
    # --- Slack -------------------------------------------------------------------------------
    "slack-bot-token": cases(
        [Hit(f"SLACK_BOT_TOKEN={(k := f'xoxb-{digits(11)}-{digits(13)}-{rand(ALNUM, 24)}')}", k)],
        ["SLACK_BOT_TOKEN=xoxb-123-abc", f"SLACK_BOT_TOKEN=xoxb-{rand(ALNUM, 40)}"],
    ),
    "slack-user-token": cases(
        [
            Hit(
                f"token: {(k := f'xoxp-{digits(11)}-{digits(11)}-{digits(12)}-{rand(HEX, 32)}')}",
                k,
            )
        ],
        [f"token: xoxp-{digits(11)}-{digits(11)}-{rand(HEX, 32)}"],
    ),
    "slack-workspace-token": cases(
        [Hit(f"token={(k := f'xoxa-2-{digits(10)}-{digits(13)}-{rand(ALNUM, 40)}')}", k)],
        ["token=xoxa-2-short", "token=xoxa-" + "x" * 40],
    ),
    "slack-refresh-token": cases(
        [Hit(f"refresh={(k := f'xoxr-{digits(10)}-{rand(ALNUM, 60)}')}", k)],
        ["refresh=xoxr-1-abc"],
    ),
    "slack-app-token": cases(
        [
            Hit(
                "SLACK_APP_TOKEN="
                + (k := f"xapp-1-A{rand(UPPER_ALNUM, 10)}-{digits(13)}-{rand(HEX, 64)}"),
                k,
            )
        ],
        [f"SLACK_APP_TOKEN=xapp-1-A{rand(UPPER_ALNUM, 10)}-{digits(13)}-{rand(HEX, 63)}"],
    ),
    "slack-webhook-url": cases(
        [
            Hit(
                "url: "
                + (
                    k := f"https://hooks.slack.com/services/T{rand(UPPER_ALNUM, 8)}"
                    f"/B{rand(UPPER_ALNUM, 10)}/{rand(ALNUM, 24)}"
                ),
                k,
            )
        ],
        ["url: https://hooks.slack.com/services/T000/B000/XXXXXXXX"],
    ),
    "slack-workflow-webhook-url": cases(
        [
            Hit(
                "hook = "
                + (
                    k := f"https://hooks.slack.com/workflows/T{rand(UPPER_ALNUM, 9)}"
                    f"/A{rand(UPPER_ALNUM, 10)}/{digits(18)}/{rand(ALNUM, 24)}"
                ),
                k,
            )
        ],
        ["hook = https://hooks.slack.com/workflows/T1/A1/1/abc"],
    ),
    # --- Payments ----------------------------------------------------------------------------
    "stripe-secret-key": cases(
        [
            Hit(f"STRIPE_SECRET_KEY={(k := 'sk_live_' + rand(ALNUM, 24))}", k),
            Hit(f"stripe.api_key = '{(k2 := 'rk_live_' + rand(ALNUM, 99))}'", k2, "pay.py"),
        ],
        [f"STRIPE_SECRET_KEY=sk_live_{rand(ALNUM, 10)}", f"STRIPE_KEY=pk_live_{rand(ALNUM, 24)}"],
    ),
    "stripe-test-key": cases(
        [Hit(f"STRIPE_SECRET_KEY={(k := 'sk_test_' + rand(ALNUM, 24))}", k)],
        [
            "STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "STRIPE_SECRET_KEY=sk_test_" + "x" * 24,
            f"STRIPE_SECRET_KEY=sk_test_{rand(ALNUM, 12)}",
        ],
    ),
    "stripe-webhook-secret": cases(
        [Hit(f"STRIPE_WEBHOOK_SECRET={(k := 'whsec_' + rand(ALNUM, 32))}", k)],
        [f"STRIPE_WEBHOOK_SECRET=whsec_{rand(ALNUM, 20)}"],
    ),
    "square-access-token": cases(
        [
            Hit(f"SQUARE_TOKEN={(k := 'sq0atp-' + rand(B64URL, 22))}", k),
            Hit(f"SQUARE_TOKEN={(k2 := 'EAAA' + rand(B64URL, 60))}", k2),
        ],
        [f"SQUARE_TOKEN=sq0atp-{rand(ALNUM, 10)}", f"SQUARE_TOKEN=EAAA{rand(ALNUM, 40)}"],
    ),
    "square-oauth-secret": cases(
        [Hit(f"SQUARE_SECRET={(k := 'sq0csp-' + rand(B64URL, 43))}", k)],
        [f"SQUARE_SECRET=sq0csp-{rand(ALNUM, 20)}"],
    ),
    "braintree-access-token": cases(
        [
            Hit(
                "BT=" + (k := f"access_token$production${rand(LOWER_ALNUM, 16)}${rand(HEX, 32)}"),
                k,
            )
        ],
        [f"BT=access_token$sandbox${rand(LOWER_ALNUM, 16)}${rand(HEX, 32)}"],
    ),
    # --- Communication -----------------------------------------------------------------------
    "twilio-api-key": cases(
        [
            Hit(f'TWILIO_API_KEY="{(k := "SK" + rand(HEX, 32))}"', k),
            Hit(
                f"twilio:\n  region: us1\n  api_key: {(k2 := 'SK' + rand(HEX, 32))}\n", k2, "a.yml"
            ),
        ],
        [f"api_key: SK{rand(HEX, 32)}", f"TWILIO_API_KEY=SK{rand(HEX, 31)}"],
    ),
    "twilio-auth-token": cases(
        [Hit(f"TWILIO_AUTH_TOKEN={(k := rand(HEX, 32))}", k)],
        [f"TWILIO_AUTH_TOKEN={rand(HEX, 31)}", "TWILIO_AUTH_TOKEN=your_auth_token"],
    ),
    "twilio-account-credentials": cases(
        [
            Hit(
                "from twilio.rest import Client\n\n"
                f'client = Client("AC{rand(HEX, 32)}", "{(k := rand(HEX, 32))}")\n',
                k,
                "app/sms.py",
            )
        ],
        [
            Miss(f'client = Client("AC{rand(HEX, 32)}", "{rand(HEX, 32)}")\n', "app/sms.py"),
            Miss(f'import twilio\nClient("AC{rand(HEX, 32)}", "{rand(HEX, 31)}")', "app/sms.py"),
        ],
    ),
    "sendgrid-api-key": cases(
        [Hit(f"SENDGRID_API_KEY={(k := f'SG.{rand(B64URL, 22)}.{rand(B64URL, 43)}')}", k)],
        ["SENDGRID_API_KEY=SG.abc.def", f"msg.SG.{rand(B64URL, 22)}.{rand(B64URL, 43)}"],
    ),
    "mailgun-api-key": cases(
        [
            Hit(f"MAILGUN_API_KEY=key-{(h := rand(HEX, 32))}", f"key-{h}"),
            Hit(
                f'mailgun:\n  api_key: "{(k := f"{rand(HEX, 32)}-{rand(HEX, 8)}-{rand(HEX, 8)}")}"',
                k,
                "a.yml",
            ),
        ],
        [f"API_KEY=key-{rand(HEX, 32)}", f"MAILGUN_API_KEY=key-{rand(HEX, 31)}"],
    ),
    "mailchimp-api-key": cases(
        [Hit(f"MAILCHIMP_KEY={(k := rand(HEX, 32) + '-us14')}", k)],
        [f"MAILCHIMP_KEY={rand(HEX, 31)}-us14", f"MAILCHIMP_KEY={rand(HEX, 32)}-uk1"],
    ),
    "discord-bot-token": cases(
        [Hit(f'DISCORD_BOT_TOKEN="{_DISCORD}"', _DISCORD)],
        [
            f'BOT="{_DISCORD}"',
            f'discord_token = "M{rand(B64URL, 23)}.{rand(B64URL, 6)}.{rand(B64URL, 10)}"',
        ],
    ),
    "discord-webhook-url": cases(
        [
            Hit(
                "webhook: "
                + (k := f"https://discord.com/api/webhooks/{digits(18)}/{rand(B64URL, 68)}"),
                k,
            )
        ],
        ["webhook: https://discord.com/api/webhooks/123/abc"],
    ),
    "telegram-bot-token": cases(
        [Hit(f"BOT_TOKEN={(k := digits(10) + ':AA' + rand(B64URL, 33))}", k)],
        [
            f"BOT_TOKEN={digits(10)}:AB{rand(B64URL, 33)}",
            f"BOT_TOKEN={digits(10)}:AA{rand(ALNUM, 20)}",
        ],
    ),
    "firebase-cloud-messaging-key": cases(
        [Hit(f"FCM_KEY={(k := f'AAAA{rand(B64URL, 7)}:APA91b{rand(B64URL, 134)}')}", k)],
        [f"FCM_KEY=AAAA{rand(B64URL, 7)}:APA91b{rand(B64URL, 100)}"],
    ),
    "facebook-access-token": cases(
        [Hit(f"FB_TOKEN={(k := 'EAAB' + rand(ALNUM, 150))}", k)],
        [f"FB_TOKEN=EAAB{rand(ALNUM, 50)}", f"blob: {rand(B64, 40)}+EAAB{rand(ALNUM, 150)}"],
    ),
    "twitter-bearer-token": cases(
        [Hit(f'TWITTER_BEARER_TOKEN="{_TWITTER_BEARER}"', _TWITTER_BEARER)],
        [f'BEARER="{_TWITTER_BEARER}"', f"TWITTER_BEARER_TOKEN={'A' * 21}{rand(ALNUM, 10)}"],
    ),
    "twitter-api-secret": cases(
        [Hit(f"TWITTER_CONSUMER_SECRET={(k := rand(ALNUM, 50))}", k)],
        [f"TWITTER_CONSUMER_SECRET={rand(ALNUM, 30)}", f"CONSUMER_SECRET={rand(ALNUM, 50)}"],
    ),
    "linkedin-client-secret": cases(
        [Hit(f"LINKEDIN_CLIENT_SECRET={(k := rand(ALNUM, 16))}", k)],
        [f"LINKEDIN_CLIENT_SECRET={rand(ALNUM, 12)}", f"LINKEDIN_CLIENT_ID={rand(ALNUM, 16)}"],
    ),
    # --- Package registries and build tools --------------------------------------------------
    "npm-access-token": cases(
        [Hit(f"NPM_TOKEN={(k := 'npm_' + rand(ALNUM, 36))}", k)],
        [f"NPM_TOKEN=npm_{rand(ALNUM, 35)}", f"const x = require_npm_{rand(ALNUM, 36)}"],
    ),
    "npmrc-auth-token": cases(
        [
            Hit(f"//npm.pkg.github.com/:_authToken={(k := rand(B64URL, 40))}\n", k, "app/.npmrc"),
            Hit(f"//nexus.acme.io/repository/npm/:_authToken={(u := uuid4())}", u, "app/.npmrc"),
        ],
        [
            Miss("//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "app/.npmrc"),
            Miss(f"//registry.npmjs.org/:_authToken=npm_{rand(ALNUM, 36)}", "app/.npmrc"),
        ],
    ),
    "npmrc-basic-auth": cases(
        [
            Hit(f"_auth={(k := b64(f'ci:{_pw()}'.encode()))}\n", k, "app/.npmrc"),
            Hit(f"//nexus.acme.io/:_password={(k2 := b64(_pw().encode()))}", k2, "app/.npmrc"),
        ],
        [Miss("_auth=${NPM_AUTH}", "app/.npmrc"), Miss("_auth = abc", "app/.npmrc")],
    ),
    "pypi-upload-token": cases(
        [
            Hit(
                "[pypi]\nusername = __token__\npassword = "
                + (k := "pypi-AgEIcHlwaS5vcmc" + rand(B64URL, 70))
                + "\n",
                k,
                "root/.pypirc",
            )
        ],
        [f"password = pypi-AgEIcHlwaS5vcmc{rand(B64URL, 30)}"],
    ),
    "pypi-test-upload-token": cases(
        [Hit(f"TWINE_PASSWORD={(k := 'pypi-AgENdGVzdC5weXBpLm9yZw' + rand(B64URL, 70))}", k)],
        [f"TWINE_PASSWORD=pypi-AgENdGVzdC5weXBpLm9yZw{rand(B64URL, 20)}"],
    ),
    "rubygems-api-key": cases(
        [
            Hit(
                f":rubygems_api_key: {(k := 'rubygems_' + rand(HEX, 48))}",
                k,
                "root/.gem/credentials",
            )
        ],
        [f":rubygems_api_key: rubygems_{rand(HEX, 40)}"],
    ),
    "nuget-api-key": cases(
        [Hit(f"NUGET_API_KEY={(k := 'oy2' + rand(LOWER_ALNUM, 43))}", k)],
        [f"NUGET_API_KEY=oy2{rand(LOWER_ALNUM, 42)}"],
    ),
    "docker-config-auth": cases(
        [
            Hit(
                '{\n  "auths": {\n'
                f'    "https://index.docker.io/v1/": {{\n      "auth": "{_DOCKER[0]}"\n    }},\n'
                f'    "ghcr.io": {{\n      "auth": "{_DOCKER[1]}",\n      "email": "ci@acme.io"\n'
                "    }\n  }\n}\n",
                _DOCKER[0],
                "root/.docker/config.json",
                (_DOCKER[1],),
            ),
            Hit(
                f'{{"registry.acme.io:5000":{{"auth":"{_DOCKER[2]}","email":"ci@acme.io"}}}}',
                _DOCKER[2],
                "root/.dockercfg",
            ),
        ],
        [
            '{"auths": {"ghcr.io": {"auth": ""}}}',
            '{"auths": {"ghcr.io": {"auth": "${DOCKER_AUTH}"}}}',
            '{"auth": "basic", "timeout": 30}',
        ],
    ),
    "dockerhub-pat": cases(
        [Hit(f"DOCKERHUB_TOKEN={(k := 'dckr_pat_' + rand(B64URL, 27))}", k)],
        [f"DOCKERHUB_TOKEN=dckr_pat_{rand(ALNUM, 20)}"],
    ),
    "jfrog-api-key": cases(
        [Hit(f"ARTIFACTORY_API_KEY={(k := 'AKCp' + rand(ALNUM, 69))}", k)],
        [f"ARTIFACTORY_API_KEY=AKCp{rand(ALNUM, 60)}"],
    ),
    "jfrog-identity-token": cases(
        [Hit(f"JFROG_TOKEN={(k := 'cmVmdGtuOjAxOj' + rand(ALNUM, 64))}", k)],
        [f"JFROG_TOKEN=cmVmdGtuOjAxOj{rand(ALNUM, 30)}"],
    ),
    # --- Kubernetes and JWTs -----------------------------------------------------------------
    "kubeconfig-credential": cases(
        [
            Hit(
                "apiVersion: v1\nkind: Config\ncontexts:\n- context:\n    cluster: prod\n"
                "    user: prod-admin\n  name: prod\nusers:\n- name: prod-admin\n  user:\n"
                f"    token: {_K8S_TOKEN}\n",
                _K8S_TOKEN,
                "root/.kube/config",
            ),
            Hit(
                "users:\n- name: dev\n  user:\n"
                f"    client-certificate-data: {_CERT_DATA}\n    client-key-data: {_KEY_DATA}\n",
                _KEY_DATA,
                "etc/kubernetes/admin.conf",
            ),
        ],
        [
            "users:\n- name: dev\n  user:\n    client-certificate-data: DATA+OMITTED\n"
            "    client-key-data: DATA+OMITTED\n",
            "users:\n- name: dev\n  user:\n    token: REDACTED\n",
            f"contexts:\n- context:\n    user: dev\n    token: {_K8S_TOKEN}\n",
        ],
    ),
    "kubeconfig-client-certificate": cases(
        [
            Hit(
                f"  user:\n    client-certificate-data: {_CERT_DATA}\n",
                _CERT_DATA,
                "root/.kube/config",
            )
        ],
        ["    client-certificate-data: DATA+OMITTED"],
    ),
    "kubernetes-service-account-token": cases(
        [
            Hit(_SA_LEGACY, _SA_LEGACY, "var/run/secrets/kubernetes.io/serviceaccount/token"),
            Hit(f"KUBE_TOKEN={_SA_BOUND}\n", _SA_BOUND),
        ],
        [f"KUBE_TOKEN={_JWT}", f"KUBE_TOKEN={_SA_LEGACY.rsplit('.', 1)[0]}."],
    ),
    "jwt": cases(
        [Hit(f"id_token={_JWT}\n", _JWT), Hit(f'{{"access_token": "{_JWT}"}}', _JWT, "a.json")],
        [
            f"id_token={_JWT_IO_EXAMPLE}",
            f"id_token={_JWT.rsplit('.', 1)[0]}.",
            f"id_token={_SA_LEGACY}",
            "id_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        ],
    ),
    # --- Private keys ------------------------------------------------------------------------
    "private-key": cases(
        [
            Hit(_RSA + "\n", _RSA, "home/app/.ssh/id_rsa"),
            Hit(f"tls:\n  key: |\n    {_EC_YAML}\n  cert: x\n", _EC_YAML, "deploy/values.yaml"),
            Hit(_OPENSSH + "\n", _OPENSSH, "home/app/.ssh/id_ed25519"),
            Hit(f'SIGNING_KEY = """{_PKCS8}\n"""\n', _PKCS8, "app/keys.py"),
            Hit(f'PRIVATE_KEY="{_PKCS8_JSON}\\n"\n', _PKCS8_JSON),
            Hit(_DSA, _DSA, "etc/ssh/ssh_host_dsa_key"),
            Hit(_LEGACY_ENCRYPTED + "\n", _LEGACY_ENCRYPTED, "etc/ssl/private/server.key"),
        ],
        [
            Miss(f"{_BEGIN}RSA PRIVATE KEY-----\n...\n{_END}RSA PRIVATE KEY-----", "README.md"),
            Miss(pem("PUBLIC KEY", 294), "etc/ssl/pub.pem"),
            Miss(pem("CERTIFICATE", 800), "etc/ssl/cert.pem"),
            Miss(_RSA.replace(_END + "RSA", _END + "EC"), "key.pem"),
            Miss("# -----BEGIN PRIVATE KEY----- marks the start of the key", "docs.md"),
        ],
    ),
    "private-key-encrypted": cases(
        [Hit(_ENCRYPTED + "\n", _ENCRYPTED, "etc/ssl/private/enc.key")],
        [Miss(f"{_BEGIN}ENCRYPTED PRIVATE KEY-----\nMIIB\n{_END}ENCRYPTED PRIVATE KEY-----")],
    ),
    "pgp-private-key": cases(
        [Hit(_PGP + "\n", _PGP, "root/signing.asc")],
        [
            Miss(_PGP.replace("PRIVATE", "PUBLIC"), "root/pub.asc"),
            Miss(f"{_BEGIN}PGP PRIVATE KEY BLOCK-----\n\nabc\n{_END}PGP PRIVATE KEY BLOCK-----"),
        ],
    ),
    "putty-private-key": cases(
        [Hit(_PUTTY, _PUTTY.split("\nPrivate-MAC", maxsplit=1)[0], "home/app/id_rsa.ppk")],
        [Miss(_PUTTY.split("Private-Lines", maxsplit=1)[0], "home/app/id_rsa.ppk")],
    ),
    "age-secret-key": cases(
        [
            Hit(
                f"# public key: age1{rand(LOWER_ALNUM, 58)}\n"
                + (k := "AGE-SECRET-KEY-1" + rand(BECH32, 58))
                + "\n",
                k,
                "root/.config/sops/age/keys.txt",
            )
        ],
        [f"AGE-SECRET-KEY-1{rand(BECH32, 57)}", f"AGE-SECRET-KEY-1{rand(BECH32, 58).lower()}"],
    ),
    # --- Credentials in URLs and dot files ---------------------------------------------------
    "database-url-password": cases(
        [
            Hit(f"DATABASE_URL=postgres://app:{_PW[0]}@db.internal:5432/shop", _PW[0]),
            Hit(f"DSN=postgresql+psycopg2://app:{_PW[1]}@db/shop", _PW[1]),
            Hit(f'mongo_url: "mongodb+srv://svc:{_PW[2]}@cluster0.mongodb.net/x"', _PW[2]),
            Hit(f"REDIS_URL=rediss://:{_PW[3]}@cache.internal:6380/0", _PW[3]),
            Hit(f"AMQP_URL=amqps://worker:{_PW[4]}@mq.internal:5671/%2f", _PW[4]),
            Hit(f"url = 'mysql://root:{_PW[5]}@127.0.0.1:3306/app'", _PW[5]),
        ],
        [
            "DATABASE_URL=postgres://postgres:postgres@localhost:5432/app",
            "DATABASE_URL=postgres://user:${DB_PASSWORD}@db:5432/app",
            "DATABASE_URL=postgres://user:<password>@host/db",
            "DATABASE_URL=mysql://root:@localhost/app",
            "REDIS_URL=redis://localhost:6379/0",
            "AMQP_URL=amqp://guest:guest@localhost:5672/",
            "url: mongodb://user:changeme@mongo:27017",
        ],
    ),
    "netrc-password": cases(
        [
            Hit(f"machine api.acme.io login deploy password {_PW[6]}\n", _PW[6], "root/.netrc"),
            Hit(
                f"machine git.acme.io\n  login ci\n  password {_PW[7]}\n",
                _PW[7],
                "home/ci/.netrc",
            ),
        ],
        [
            Miss(f"machine api.acme.io login deploy password {_PW[6]}\n", "app/notes.txt"),
            Miss("machine api.acme.io login deploy password changeme\n", "root/.netrc"),
        ],
    ),
    "pgpass-password": cases(
        [
            Hit(f"db.internal:5432:shop:app:{_PW[8]}\n", _PW[8], "home/app/.pgpass"),
            Hit(f"# prod\n*:*:*:replicator:{_PW[9]}\n", _PW[9], "root/.pgpass"),
        ],
        [
            Miss(f"db.internal:5432:shop:app:{_PW[8]}\n", "app/hosts.txt"),
            Miss("db.internal:5432:shop:app:changeme\n", "home/app/.pgpass"),
        ],
    ),
    "git-credentials": cases(
        [
            Hit(f"https://deploy:{_GHP}@github.com\n", _GHP, "root/.git-credentials"),
            Hit(f"https://ci:{_PW[10]}@git.acme.io\n", _PW[10], "home/ci/.git-credentials"),
        ],
        [
            Miss(f"https://ci:{_PW[10]}@git.acme.io\n", "app/README.md"),
            Miss("https://git.acme.io/acme/shop.git\n", "root/.git-credentials"),
        ],
    ),
    "htpasswd-hash": cases(
        [
            Hit(
                f"admin:{(h := '$apr1$' + rand(CRYPT, 8) + '$' + rand(CRYPT, 22))}\n",
                h,
                "etc/nginx/.htpasswd",
            ),
            Hit(f"ops:{(h2 := '$2y$10$' + rand(CRYPT, 53))}\n", h2, "etc/nginx/.htpasswd"),
        ],
        [
            Miss(f"admin:$apr1${rand(CRYPT, 8)}${rand(CRYPT, 22)}\n", "app/users.txt"),
            Miss("admin:plaintext\n", "etc/nginx/.htpasswd"),
        ],
    ),
    "linux-shadow-password-hash": cases(
        [
            Hit(
                "root:"
                + (h := "$6$" + rand(CRYPT, 16) + "$" + rand(CRYPT, 86))
                + ":19700:0:99999:7:::\n",
                h,
                "etc/shadow",
            ),
            Hit(
                f"app:{(h2 := '$y$j9T$' + rand(CRYPT, 22) + '$' + rand(CRYPT, 43))}:19700::::::\n",
                h2,
                "etc/shadow",
            ),
        ],
        [
            Miss("root:*:19700:0:99999:7:::\nnobody:!:19700::::::\n", "etc/shadow"),
            Miss(f"root:$6${rand(CRYPT, 16)}${rand(CRYPT, 86)}:19700::::::\n", "app/shadow.txt"),
        ],
    ),
    # --- Infrastructure and cloud platforms --------------------------------------------------
    "vault-service-token": cases(
        [Hit(f"VAULT_TOKEN={(k := 'hvs.' + rand(B64URL, 90))}", k)],
        [f"VAULT_TOKEN=hvs.{rand(ALNUM, 10)}"],
    ),
    "vault-batch-token": cases(
        [Hit(f"VAULT_TOKEN={(k := 'hvb.' + rand(B64URL, 120))}", k)],
        [f"VAULT_TOKEN=hvb.{rand(ALNUM, 10)}"],
    ),
    "vault-legacy-token": cases(
        [
            Hit(f"VAULT_TOKEN=s.{(k := rand(ALNUM, 24))}", f"s.{k}"),
            Hit(f"vault.token=s.{(k2 := rand(ALNUM, 24))}", f"s.{k2}", "app.properties"),
        ],
        [f"VAULT_TOKEN=s.{rand(ALNUM, 12)}", f"token: s.{rand(ALNUM, 24)}"],
    ),
    "terraform-cloud-token": cases(
        [
            Hit(
                f'token = "{(k := rand(ALNUM, 14) + ".atlasv1." + rand(B64URL, 67))}"',
                k,
                "root/.terraformrc",
            )
        ],
        [f'token = "{rand(ALNUM, 14)}.atlasv1.{rand(B64URL, 40)}"'],
    ),
    "pulumi-access-token": cases(
        [Hit(f"PULUMI_ACCESS_TOKEN={(k := 'pul-' + rand(HEX, 40))}", k)],
        [f"PULUMI_ACCESS_TOKEN=pul-{rand(HEX, 39)}"],
    ),
    "digitalocean-pat": cases(
        [Hit(f"DIGITALOCEAN_TOKEN={(k := 'dop_v1_' + rand(HEX, 64))}", k)],
        [f"DIGITALOCEAN_TOKEN=dop_v1_{rand(HEX, 63)}"],
    ),
    "digitalocean-oauth-token": cases(
        [Hit(f"DO_OAUTH={(k := 'doo_v1_' + rand(HEX, 64))}", k)],
        [f"DO_OAUTH=doo_v1_{rand(HEX, 60)}"],
    ),
    "digitalocean-refresh-token": cases(
        [Hit(f"DO_REFRESH={(k := 'dor_v1_' + rand(HEX, 64))}", k)],
        [f"DO_REFRESH=dor_v1_{rand(HEX, 60)}"],
    ),
    "heroku-api-key": cases(
        [Hit(f"HEROKU_API_KEY={(k := 'HRKU-AA' + rand(B64URL, 58))}", k)],
        [f"HEROKU_API_KEY=HRKU-AA{rand(B64URL, 50)}"],
    ),
    "heroku-api-key-legacy": cases(
        [Hit(f"HEROKU_API_KEY={(u := uuid4())}", u)],
        [f"heroku_app_id = {uuid4()}", f"api_key = {uuid4()}"],
    ),
    "cloudflare-api-token": cases(
        [Hit(f"CLOUDFLARE_API_TOKEN={(k := rand(B64URL, 40))}", k)],
        [f"CLOUDFLARE_API_TOKEN={rand(B64URL, 39)}", f"SOME_TOKEN={rand(B64URL, 40)}"],
    ),
    "cloudflare-global-api-key": cases(
        [
            Hit(f"CF_API_KEY={(k := rand(HEX, 37))}", k),
            Hit(f"X-Auth-Key: {(k2 := rand(HEX, 37))}", k2),
        ],
        [f"CF_API_KEY={rand(HEX, 36)}"],
    ),
    "alibaba-access-key-id": cases(
        [Hit(f"ALIBABA_CLOUD_ACCESS_KEY_ID={(k := 'LTAI' + rand(ALNUM, 20))}", k)],
        [f"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI{rand(ALNUM, 8)}"],
    ),
    "alibaba-access-key-secret": cases(
        [Hit(f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={(k := rand(ALNUM, 30))}", k)],
        [f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={rand(ALNUM, 29)}"],
    ),
    "databricks-token": cases(
        [Hit(f"DATABRICKS_TOKEN={(k := 'dapi' + rand(HEX, 32))}", k)],
        [f"DATABRICKS_TOKEN=dapi{rand(HEX, 31)}"],
    ),
    "planetscale-token": cases(
        [Hit(f"PLANETSCALE_TOKEN={(k := 'pscale_tkn_' + rand(B64URL, 43))}", k)],
        [f"PLANETSCALE_TOKEN=pscale_tkn_{rand(ALNUM, 10)}"],
    ),
    "planetscale-password": cases(
        [Hit(f"DB_PW={(k := 'pscale_pw_' + rand(B64URL, 43))}", k)],
        [f"DB_PW=pscale_pw_{rand(ALNUM, 10)}"],
    ),
    "supabase-access-token": cases(
        [Hit(f"SUPABASE_ACCESS_TOKEN={(k := 'sbp_' + rand(HEX, 40))}", k)],
        [f"SUPABASE_ACCESS_TOKEN=sbp_{rand(HEX, 30)}"],
    ),
    "tailscale-key": cases(
        [Hit(f"TS_AUTHKEY={(k := f'tskey-auth-{rand(ALNUM, 12)}-{rand(ALNUM, 32)}')}", k)],
        [f"TS_AUTHKEY=tskey-foo-{rand(ALNUM, 12)}-{rand(ALNUM, 32)}"],
    ),
    "doppler-token": cases(
        [Hit(f"DOPPLER_TOKEN={(k := 'dp.st.' + rand(ALNUM, 43))}", k)],
        [f"DOPPLER_TOKEN=dp.st.{rand(ALNUM, 20)}"],
    ),
    # --- SaaS developer and observability tools ----------------------------------------------
    "atlassian-api-token": cases(
        [Hit(f"JIRA_TOKEN={(k := 'ATATT3' + rand(ALNUM + '_-=', 186))}", k)],
        [f"JIRA_TOKEN=ATATT3{rand(ALNUM, 100)}"],
    ),
    "atlassian-api-token-legacy": cases(
        [Hit(f"JIRA_API_TOKEN={(k := rand(ALNUM, 24))}", k)],
        [f"JIRA_API_TOKEN={rand(ALNUM, 20)}", f"JIRA_URL_TOKEN_COUNT={rand(ALNUM, 24)}"],
    ),
    "okta-api-token": cases(
        [
            Hit(f"OKTA_API_TOKEN={(k := '00' + rand(B64URL, 40))}", k),
            Hit(f"Authorization: SSWS {(k2 := '00' + rand(B64URL, 40))}", k2),
        ],
        [f"OKTA_CLIENT_ID=0oa{rand(ALNUM, 17)}", f"OKTA_API_TOKEN=00{rand(B64URL, 30)}"],
    ),
    "datadog-api-key": cases(
        [
            Hit(f"DD_API_KEY={(k := rand(HEX, 32))}", k),
            Hit(f"datadog.api.key={(k2 := rand(HEX, 32))}", k2, "app.properties"),
        ],
        [f"DD_API_KEY={rand(HEX, 31)}", f"SOME_API_KEY={rand(HEX, 32)}"],
    ),
    "datadog-app-key": cases(
        [Hit(f"DD_APP_KEY={(k := rand(HEX, 40))}", k)],
        [f"DD_APP_KEY={rand(HEX, 32)}"],
    ),
    "new-relic-user-api-key": cases(
        [Hit(f"NEW_RELIC_API_KEY={(k := 'NRAK-' + rand(UPPER_ALNUM, 27))}", k)],
        [f"NEW_RELIC_API_KEY=NRAK-{rand(UPPER_ALNUM, 20)}"],
    ),
    "new-relic-insert-key": cases(
        [Hit(f"NEW_RELIC_INSERT_KEY={(k := 'NRII-' + rand(B64URL, 32))}", k)],
        [f"NEW_RELIC_INSERT_KEY=NRII-{rand(B64URL, 20)}"],
    ),
    "new-relic-license-key": cases(
        [Hit(f"NEW_RELIC_LICENSE_KEY={(k := rand(HEX, 36) + 'NRAL')}", k)],
        [f"NEW_RELIC_LICENSE_KEY={rand(HEX, 30)}NRAL"],
    ),
    "sentry-dsn-secret": cases(
        [
            Hit(
                f"SENTRY_DSN=https://{rand(HEX, 32)}:{(k := rand(HEX, 32))}@o1.ingest.sentry.io/6",
                k,
            )
        ],
        [f"SENTRY_DSN=https://{rand(HEX, 32)}@o12345.ingest.sentry.io/678"],
    ),
    "sentry-user-token": cases(
        [Hit(f"SENTRY_AUTH_TOKEN={(k := 'sntryu_' + rand(HEX, 64))}", k)],
        [f"SENTRY_AUTH_TOKEN=sntryu_{rand(HEX, 60)}"],
    ),
    "grafana-cloud-token": cases(
        [Hit(f"GRAFANA_TOKEN={(k := 'glc_' + rand(B64, 80) + '=')}", k)],
        [f"GRAFANA_TOKEN=glc_{rand(ALNUM, 20)}"],
    ),
    "grafana-service-account-token": cases(
        [Hit(f"GRAFANA_SA_TOKEN={(k := 'glsa_' + rand(ALNUM, 32) + '_' + rand(HEX, 8))}", k)],
        [f"GRAFANA_SA_TOKEN=glsa_{rand(ALNUM, 32)}"],
    ),
    "grafana-api-key": cases(
        [Hit(f"GRAFANA_API_KEY={(k := 'eyJrIjoi' + rand(ALNUM, 80))}", k)],
        [f"GRAFANA_API_KEY=eyJrIjoi{rand(ALNUM, 30)}"],
    ),
    "dynatrace-api-token": cases(
        [
            Hit(
                f"DT_API_TOKEN={(k := f'dt0c01.{rand(UPPER_ALNUM, 24)}.{rand(UPPER_ALNUM, 64)}')}",
                k,
            )
        ],
        [f"DT_API_TOKEN=dt0c01.{rand(UPPER_ALNUM, 24)}.{rand(UPPER_ALNUM, 40)}"],
    ),
    "linear-api-key": cases(
        [Hit(f"LINEAR_API_KEY={(k := 'lin_api_' + rand(ALNUM, 40))}", k)],
        [f"LINEAR_API_KEY=lin_api_{rand(ALNUM, 30)}"],
    ),
    "postman-api-key": cases(
        [Hit(f"POSTMAN_API_KEY={(k := f'PMAK-{rand(HEX, 24)}-{rand(HEX, 34)}')}", k)],
        [f"POSTMAN_API_KEY=PMAK-{rand(HEX, 24)}-{rand(HEX, 30)}"],
    ),
    "shopify-access-token": cases(
        [
            Hit(f"SHOPIFY_TOKEN={(k := 'shpat_' + rand(HEX, 32))}", k),
            Hit(f"SHOPIFY_TOKEN={(k2 := 'shppa_' + rand(HEX, 32))}", k2),
        ],
        [f"SHOPIFY_TOKEN=shpat_{rand(HEX, 31)}"],
    ),
    "shopify-shared-secret": cases(
        [Hit(f"SHOPIFY_SECRET={(k := 'shpss_' + rand(HEX, 32))}", k)],
        [f"SHOPIFY_SECRET=shpss_{rand(HEX, 20)}"],
    ),
    "mapbox-secret-token": cases(
        [Hit(f"MAPBOX_TOKEN={(k := f'sk.eyJ1Ijoi{rand(B64URL, 60)}.{rand(B64URL, 22)}')}", k)],
        [f"MAPBOX_TOKEN=pk.eyJ1Ijoi{rand(B64URL, 60)}.{rand(B64URL, 22)}"],
    ),
    # --- AI platforms ------------------------------------------------------------------------
    "openai-api-key": cases(
        [Hit(f"OPENAI_API_KEY={(k := f'sk-{rand(ALNUM, 20)}T3BlbkFJ{rand(ALNUM, 20)}')}", k)],
        [f"OPENAI_API_KEY=sk-{rand(ALNUM, 20)}T3BlbkFJ{rand(ALNUM, 10)}"],
    ),
    "openai-project-key": cases(
        [Hit(f"OPENAI_API_KEY={(k := 'sk-proj-' + rand(B64URL, 156))}", k)],
        [f"OPENAI_API_KEY=sk-proj-{rand(B64URL, 40)}"],
    ),
    "anthropic-api-key": cases(
        [Hit(f"ANTHROPIC_API_KEY={(k := 'sk-ant-api03-' + rand(B64URL, 93) + 'AA')}", k)],
        [
            f"ANTHROPIC_API_KEY=sk-ant-api03-{rand(ALNUM, 93)}AB",
            f"ANTHROPIC_API_KEY=sk-ant-api03-{rand(ALNUM, 40)}AA",
        ],
    ),
    "huggingface-token": cases(
        [Hit(f"HF_TOKEN={(k := 'hf_' + rand(LETTERS, 34))}", k)],
        [f"HF_TOKEN=hf_{rand(LETTERS, 30)}", f"HF_TOKEN=hf_{rand(LETTERS, 33)}1"],
    ),
    # --- HTTP credentials --------------------------------------------------------------------
    "http-basic-auth-header": cases(
        [Hit(f'curl -H "Authorization: Basic {_BASIC}" https://ci.acme.io', _BASIC, "ci/x.sh")],
        ['curl -H "Authorization: Basic ${CREDS}" https://ci.acme.io'],
    ),
    "http-bearer-token": cases(
        [Hit(f'headers = {{"Authorization": "Bearer {(k := rand(B64URL, 40))}"}}', k, "a.py")],
        [
            'curl -H "Authorization: Bearer $TOKEN"',
            f'curl -H "Authorization: Bearer {_GHP}"',
            f'curl -H "Authorization: Bearer {_JWT}"',
        ],
    ),
    # --- Generic assignments -----------------------------------------------------------------
    "generic-password": cases(
        [
            Hit(f"DB_PASSWORD={_PW[11]}\n", _PW[11]),
            Hit(f'db:\n  password: "{_PW[12]}"\n', _PW[12], "config/app.yaml"),
            Hit(f'{{"user": "app", "password": "{_PW[13]}"}}', _PW[13], "config/app.json"),
            Hit(f"FROM alpine\nENV POSTGRES_PASSWORD {_PW[14]}\n", _PW[14], "Dockerfile"),
            Hit(f"mysql -u root --password {_PW[15]} shop\n", _PW[15], "bin/restore.sh"),
            Hit(f"psql --password={_PW[0]} -h db\n", _PW[0], "bin/x.sh"),
            Hit(f"spring.datasource.password={_PW[1]}\n", _PW[1], "application.properties"),
            Hit(f"smtp_pwd = '{_PW[2]}'\n", _PW[2], "app/mail.py"),
        ],
        [
            "password: changeme",
            "DB_PASSWORD=${DB_PASSWORD}",
            'password = os.environ["DB_PASSWORD"]',
            "password = os.getenv('DB_PASSWORD')",
            "password: {{ .Values.db.password }}",
            "PWD=/home/app/project",
            "password = config.db_password",
            "password: hunter2",
            "password_hash: x",
            f"passwordPolicy: {rand(ALNUM, 16)}",
            "password=user_pass_field",
            "password: null",
            "password: ReadableBuffer, salt: ReadableBuffer",
            "password = '{db_password}'",
            "password = Settings.DbPassword",
            "password: process.env.DB_PASSWORD",
            'if password == "":',
        ],
    ),
    "generic-secret": cases(
        [
            Hit(f"client_secret: {(k := rand(ALNUM, 32))}\n", k, "config/oauth.yaml"),
            Hit(f"JWT_SECRET={(k2 := rand(B64, 44))}\n", k2),
            Hit(f"ENV APP_SECRET {(k4 := rand(ALNUM, 24))}\n", k4, "Dockerfile"),
            Hit(f"oauth2-proxy --client-secret={(k5 := rand(ALNUM, 32))}\n", k5, "run.sh"),
            Hit(f'"secret_key": "{(k3 := rand(ALNUM + "!#%^*-_.", 50))}"', k3, "a.json"),
        ],
        [
            "secret: mysecret",
            "      secretName: db-credentials",
            f"client_secret: {uuid4()}",
            "secret: ${{ secrets.DEPLOY_KEY }}",
            "SECRET_KEY = get_random_secret_key()",
        ],
    ),
    "generic-api-key": cases(
        [
            Hit(f"API_KEY={(k := rand(ALNUM, 32))}\n", k),
            Hit(f"curl -H 'x-api-key: {(k2 := rand(ALNUM, 40))}' https://api", k2, "x.sh"),
            Hit(f"ENV MAPS_API_KEY {(k3 := rand(ALNUM, 32))}\n", k3, "Dockerfile"),
            Hit(f"cli deploy --api-key {(k4 := rand(ALNUM, 32))}\n", k4, "run.sh"),
        ],
        [
            "apiKey: process.env.API_KEY",
            f"api_key: {_GHP}",
            f"api_key: sha256:{rand(HEX, 64)}",
            "API_KEY=abcdef",
        ],
    ),
    "generic-token": cases(
        [
            Hit(f"auth_token = '{(k := rand(B64URL, 40))}'\n", k, "app/client.py"),
            Hit(f"ACCESS_TOKEN={(k2 := rand(ALNUM + '-_', 40))}\n", k2),
            Hit(f"ENV NPM_TOKEN {(k3 := rand(ALNUM, 36))}\n", k3, "Dockerfile"),
            Hit(f"vault login --token {(k4 := rand(ALNUM, 30))}\n", k4, "run.sh"),
        ],
        [
            "token: ${{ secrets.GITHUB_TOKEN }}",
            f"access_token: {_JWT}",
            "csrf_token: abc123",
            "next_page_token: abcdefabcdefabcd",
            "automountServiceAccountToken: false",
            "  --token TOKEN   the API token to use",
            'gh auth login --with-token "$GH_TOKEN"',
            "//registry.npmjs.org/:_authToken=" + rand(ALNUM, 40),
        ],
    ),
    "xml-password": cases(
        [
            Hit(
                f"<server>\n  <password>{_PW[3]}</password>\n</server>",
                _PW[3],
                "root/.m2/settings.xml",
            ),
            Hit(
                f"<password>{(k := rand(ALNUM, 14) + '.' + rand(ALNUM, 3))}</password>", k, "a.xml"
            ),
        ],
        ["<password>${env.MAVEN_PASSWORD}</password>", "<password></password>"],
    ),
    "kubernetes-env-secret-value": cases(
        [
            Hit(
                f'        env:\n            - name: DB_PASSWORD\n              value: "{_PW[4]}"\n',
                _PW[4],
                "deploy/cart.yaml",
            ),
            Hit(f"- name: STRIPE_API_KEY\n  value: {_PW[5]}\n", _PW[5], "deploy/pay.yaml"),
        ],
        [
            '- name: DB_PASSWORD\n  value: "$(DB_PASSWORD)"\n',
            f"- name: LOG_LEVEL\n  value: {_PW[4]}\n",
            "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: pw}\n",
        ],
    ),
}


def decoys() -> list[tuple[str, str]]:
    """(path, text) of common values that look random but are no secret: no rule may match."""
    shas = [rand(HEX, 40) for _ in range(5)]
    digests = [rand(HEX, 64) for _ in range(5)]
    integrity = [b64(random_bytes(64)) for _ in range(5)]
    blobs = [b64(random_bytes(_rng.randint(30, 600))) for _ in range(20)]
    return [
        ("app/ids.txt", "\n".join(f"id: {uuid4()}" for _ in range(20))),
        ("app/ids.json", json.dumps({"request_id": uuid4(), "trace": uuid4()})),
        ("git.log", "\n".join(f"commit {s}\nMerge: {s[:7]}" for s in shas)),
        ("deploy/pod.yaml", "\n".join(f"image: nginx@sha256:{d}" for d in digests)),
        ("index.json", "\n".join(f'"digest": "sha256:{d}",' for d in digests)),
        (
            "package-lock.json",
            "\n".join(
                f'"resolved": "https://registry.npmjs.org/a/-/a-1.0.{i}.tgz",\n'
                f'"integrity": "sha512-{v}"'
                for i, v in enumerate(integrity)
            ),
        ),
        (
            "go.sum",
            "\n".join(f"golang.org/x/net v0.{i}.0 h1:{b64(random_bytes(32))}" for i in range(5)),
        ),
        ("blob.b64", "\n".join(blobs)),
        ("docs/aws.md", "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
        (
            "docs/aws.ini",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        ),
        ("config.yaml", "password: changeme\ntoken=${TOKEN}\napi_key: <your-api-key>\n"),
        ("app/.env.example", "DB_PASSWORD=\nSECRET_KEY=your_secret_key_here\nAPI_TOKEN=xxxxxxxx\n"),
        (
            "app.min.js",
            'function(e,t){return e.password=t.password,e.token=t.token,e}var a=n.apiKey||"";'
            "var s={secret:r.secret,password:o.password};",
        ),
        ("env.txt", "PWD=/root\nOLDPWD=/usr/local/bin\nHOME=/root\n"),
        ("deploy/svc.yaml", "automountServiceAccountToken: false\nsecretName: tls-cert\n"),
        ("etc/ssl/cert.pem", pem("CERTIFICATE", 900)),
        ("etc/ssl/pub.pem", pem("PUBLIC KEY", 294)),
        ("README.md", "git clone https://github.com/acme/shop.git\ngit@github.com:acme/shop.git"),
        ("app/db.env", "DATABASE_URL=postgres://localhost:5432/app\n"),
        ("ci.sh", 'curl -H "Authorization: Bearer ${TOKEN}" https://api\n'),
        ("jwt.md", f"Example: {_JWT_IO_EXAMPLE}\n"),
    ]
