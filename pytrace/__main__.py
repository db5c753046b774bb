from pytrace.cli import main

raise SystemExit(main())
