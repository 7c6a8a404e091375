"""Distribution releases as advisories key them: "debian:12", "ubuntu:22.04", "alpine:3.11".

Debian's feeds name releases by codename ("bookworm") while images say VERSION_ID=12, and
Alpine images say 3.11.6 while secdb says v3.11; the importers and the matcher both go
through this module so the two sides meet on one key. The codename tables are public facts
(Debian and Ubuntu release histories); tests cross-check Debian's against the security
tracker's own config.json.
"""

from __future__ import annotations

import re

# Debian codename -> release number as the key uses it. Before etch (4.0) a major number
# covered two releases (woody 3.0, sarge 3.1), so those keep their minor part; from etch on
# the major number alone names the release (/etc/debian_version "5.0.10" is lenny, "12.5"
# bookworm). sid (unstable) is never a release and is not in the table.
DEBIAN_CODENAMES: dict[str, str] = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}

# Ubuntu codename (first word of the release name, as in UBUNTU_CODENAME) -> VERSION_ID.
UBUNTU_CODENAMES: dict[str, str] = {
    "warty": "4.10",
    "hoary": "5.04",
    "breezy": "5.10",
    "dapper": "6.06",
    "edgy": "6.10",
    "feisty": "7.04",
    "gutsy": "7.10",
    "hardy": "8.04",
    "intrepid": "8.10",
    "jaunty": "9.04",
    "karmic": "9.10",
    "lucid": "10.04",
    "maverick": "10.10",
    "natty": "11.04",
    "oneiric": "11.10",
    "precise": "12.04",
    "quantal": "12.10",
    "raring": "13.04",
    "saucy": "13.10",
    "trusty": "14.04",
    "utopic": "14.10",
    "vivid": "15.04",
    "wily": "15.10",
    "xenial": "16.04",
    "yakkety": "16.10",
    "zesty": "17.04",
    "artful": "17.10",
    "bionic": "18.04",
    "cosmic": "18.10",
    "disco": "19.04",
    "eoan": "19.10",
    "focal": "20.04",
    "groovy": "20.10",
    "hirsute": "21.04",
    "impish": "21.10",
    "jammy": "22.04",
    "kinetic": "22.10",
    "lunar": "23.04",
    "mantic": "23.10",
    "noble": "24.04",
    "oracular": "24.10",
    "plucky": "25.04",
    "questing": "25.10",
}

DEBIAN_UNSTABLE = frozenset({"sid", "unstable"})

_DEBIAN_BY_NUMBER = {number: codename for codename, number in DEBIAN_CODENAMES.items()}
_UBUNTU_BY_NUMBER = {number: codename for codename, number in UBUNTU_CODENAMES.items()}
_MAJOR_MINOR = re.compile(r"(\d+)(?:\.(\d+))?")


def debian_release(codename: str) -> str | None:
    """ "bullseye" -> "11"; None for sid/unstable and unknown names."""
    return DEBIAN_CODENAMES.get(codename.strip().lower())


def debian_codename(release: str) -> str | None:
    """ "11" (or "11.7") -> "bullseye"; None when unknown."""
    number = _debian_number(release)
    return None if number is None else _DEBIAN_BY_NUMBER.get(number)


def ubuntu_release(codename: str) -> str | None:
    """ "jammy" -> "22.04"; None when unknown."""
    return UBUNTU_CODENAMES.get(codename.strip().lower())


def ubuntu_codename(release: str) -> str | None:
    """ "22.04" -> "jammy"; None when unknown."""
    return _UBUNTU_BY_NUMBER.get(release.strip())


def _debian_number(version: str) -> str | None:
    m = _MAJOR_MINOR.match(version.strip())
    if m is None:
        return None
    major = int(m.group(1))
    if major >= 4:
        return str(major)
    return f"{major}.{int(m.group(2) or 0)}"


def distro_key(os_id: str, version_id: str, codename: str = "") -> str:
    """The release key for an OS identity (os-release ID, VERSION_ID, VERSION_CODENAME).

    ("debian", "11") -> "debian:11"; ("debian", "", "bookworm") -> "debian:12" (testing
    images have no VERSION_ID); ("debian", "", "sid") -> "debian:sid";
    ("alpine", "3.11.6") -> "alpine:3.11"; ("alpine", "3.19_alpha20230901") -> "alpine:edge";
    ("ubuntu", "22.04") -> "ubuntu:22.04". A codename may also be given as version_id.
    Other distributions keep VERSION_ID as it is; "unknown" when nothing is known.
    """
    os_id = os_id.strip().lower()
    version = version_id.strip().lower()
    codename = codename.strip().lower()
    if os_id == "debian":
        for candidate in (version, codename):
            if candidate in DEBIAN_UNSTABLE:
                return "debian:sid"
            if candidate in DEBIAN_CODENAMES:
                return f"debian:{DEBIAN_CODENAMES[candidate]}"
            number = _debian_number(candidate)
            if number is not None:
                return f"debian:{number}"
        return "debian:unknown"
    if os_id == "ubuntu":
        for candidate in (version, codename):
            if candidate in UBUNTU_CODENAMES:
                return f"ubuntu:{UBUNTU_CODENAMES[candidate]}"
            m = _MAJOR_MINOR.match(candidate)
            if m is not None and m.group(2) is not None:
                return f"ubuntu:{m.group(1)}.{m.group(2)}"
        return "ubuntu:unknown"
    if os_id == "alpine":
        version = version.removeprefix("v")
        if version == "edge" or "_alpha" in version:
            return "alpine:edge"
        m = _MAJOR_MINOR.match(version)
        if m is not None and m.group(2) is not None:
            return f"alpine:{int(m.group(1))}.{int(m.group(2))}"
        return f"alpine:{version or 'unknown'}"
    return f"{os_id or 'linux'}:{version or codename or 'unknown'}"
