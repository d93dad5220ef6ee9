"""`python -m envlayers`."""

from envlayers._entry import main

raise SystemExit(main())
