"""`python -m kubeward` runs the CLI."""

from kubeward.cli.main import main

raise SystemExit(main())
