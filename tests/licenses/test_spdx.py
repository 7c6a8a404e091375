"""normalize_license: declared licence dialects to SPDX, unknowns kept as declared."""

from __future__ import annotations

import pytest

from kubeward.licenses.spdx import normalize_license


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        # Already SPDX, in any case or with deprecated "+" forms.
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("  Apache-2.0\n", "Apache-2.0"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPL-2.0", "GPL-2.0-only"),
        ("MIT AND BSD-2-Clause", "MIT AND BSD-2-Clause"),
        ("(MIT or Apache-2.0) and BSD-2-Clause", "(MIT OR Apache-2.0) AND BSD-2-Clause"),
        (
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
        ),
        # rpm legacy tags.
        ("GPLv2+", "GPL-2.0-or-later"),
        ("GPLv2+ and LGPLv2+", "GPL-2.0-or-later AND LGPL-2.1-or-later"),
        ("LGPLv2", "LGPL-2.1-only"),
        ("GPLv3", "GPL-3.0-only"),
        ("GPL+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0-Perl"),
        ("ASL 2.0", "Apache-2.0"),
        ("MPLv2.0", "MPL-2.0"),
        ("BSD", "BSD-3-Clause"),
        # Free-form names.
        ("Apache 2.0", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("MIT License", "MIT"),
        ("The MIT License", "MIT"),
        ("GPL-2 or later", "GPL-2.0-or-later"),
        ("public domain", "LicenseRef-scancode-public-domain"),
        # DEP-5 short names.
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("LGPL-2+", "LGPL-2.0-or-later"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("Expat", "MIT"),
        ("MIT/X11", "MIT"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("Artistic", "Artistic-1.0-Perl"),
        ("public-domain", "LicenseRef-scancode-public-domain"),
        ("GPL-1+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0-Perl"),
        ("LGPL-3+ or GPL-2+", "LGPL-3.0-or-later OR GPL-2.0-or-later"),
        ("GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"),
        ("GPL-2+ with Autoconf exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"),
        ("GPL-3+ with Autoconf exception", "GPL-3.0-or-later WITH Autoconf-exception-3.0"),
        ("GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
        ("BSL-1.0 and Jam", "BSL-1.0 AND Jam"),
    ],
)
def test_normalises_to_spdx(declared: str, expected: str) -> None:
    assert normalize_license(declared) == expected


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("custom", "custom"),
        ("LGPL", "LGPL"),  # unversioned: no honest SPDX id
        ("  GPL-2+ with OpenSSL exception ", "GPL-2+ with OpenSSL exception"),  # no SPDX id
        ("LGPLv3+_or_GPLv2+", "LGPLv3+_or_GPLv2+"),
        ("MIT and (", "MIT and ("),
        ("MIT/X11 and BSD-like", "MIT/X11 and BSD-like"),
        ("Permission to use, copy, modify", "Permission to use, copy, modify"),
        ("\x00\ufffd\ufffd", "\x00\ufffd\ufffd"),
    ],
)
def test_keeps_declared_text_when_not_spdx(declared: str, expected: str) -> None:
    assert normalize_license(declared) == expected


def test_is_cached() -> None:
    normalize_license.cache_clear()
    normalize_license("GPLv2+")
    normalize_license("GPLv2+")
    info = normalize_license.cache_info()
    assert (info.hits, info.misses) == (1, 1)
