"""`python -m envlayers`."""

from envlayers.cli import main

raise SystemExit(main())
