from local_backend.cli import main

raise SystemExit(main())
